"""`pcfx demo`: a chain of real company nodes on a real network layout (operator-mode hub, one NATS account per
company, a leaf node), showing supplier-specific values, verification outcomes, a buyer-only declaration, a
revision propagating down the chain, and an attacker's moves refused by the network or rejected by buyers."""

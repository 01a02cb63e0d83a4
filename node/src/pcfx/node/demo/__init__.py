"""`pcfx demo`: a chain of real company nodes on one embedded nats-server, showing supplier-specific values,
verification outcomes, a revision propagating down the chain and forged/tampered declarations rejected."""

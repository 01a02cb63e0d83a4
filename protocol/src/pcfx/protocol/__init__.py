"""pcfx wire contract: footprint models, signed declarations, identities, verification. Pure, no I/O."""

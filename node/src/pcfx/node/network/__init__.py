"""The network operator's side: NATS operator, accounts and credentials for the companies of a pcfx network."""

"""The pcfx company node: footprint engine, storage, NATS exchange, HTTP API and CLI."""

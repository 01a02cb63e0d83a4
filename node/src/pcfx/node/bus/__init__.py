"""NATS side of the node: embedded server, connection, stream/KV setup, publisher, ingestion, responder."""

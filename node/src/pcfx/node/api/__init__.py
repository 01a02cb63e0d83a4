"""HTTP API of the node (FastAPI app factory, thin routes)."""

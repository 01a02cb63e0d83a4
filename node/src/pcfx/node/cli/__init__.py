"""Command-line interface of the pcfx node."""

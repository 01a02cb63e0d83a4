"""PACT Technical Specifications v3.0 (and v2.3) exchange API: host, client, OAuth2 and events."""

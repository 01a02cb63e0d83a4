"""Property-based run of the node's PACT OpenAPI (schemathesis): no operation ever answers 5xx, and every
answer has a status code and content type the document declares. Bounded to a few examples per operation."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pcfx.node.pact.auth import StaticClientRegistry, TokenSigner
from pcfx.node.pact.host import PactHost, install_pact
from pcfx.node.pact.source import StaticFootprintSource
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)


def _node_openapi() -> dict:
    """The OpenAPI document the node's app publishes for its PACT routes (independent of the data served)."""
    app = FastAPI()
    install_pact(
        app,
        PactHost(
            source=StaticFootprintSource(),
            registry=StaticClientRegistry(),
            signer=TokenSigner.hs256(bytes(32), issuer="openapi"),
        ),
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(_node_openapi())


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_pact_api_never_fails_with_a_server_error(case, pact_node, auth):
    case.call_and_validate(
        base_url=pact_node.url,
        headers=auth,
        verify=str(pact_node.cert.cert_path),
        timeout=30,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )

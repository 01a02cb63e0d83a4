"""OpenAPI description of the PACT routes, built on the spec's own component schemas.

The component schemas come from the PACT OpenAPI documents shipped in `pcfx/node/data/pact/`, renamed
with a `PactV3`/`PactV2` prefix so both versions live in one document beside the node's own schemas.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import yaml
from fastapi import FastAPI

__all__ = [
    "DISCOVERY",
    "EVENTS_V2",
    "EVENTS_V3",
    "GET_V2",
    "GET_V3",
    "LIST_V2",
    "LIST_V3",
    "TOKEN",
    "extend_app_openapi",
    "pact_components",
    "spec_document",
]

_PREFIX = {3: "PactV3", 2: "PactV2"}
_FILES = {3: "openapi_v3_0.yaml", 2: "openapi_v2_3.yaml"}
_BEARER = [{"PactBearerAuth": []}]


@cache
def spec_document(version: int) -> dict[str, Any]:
    """The shipped PACT OpenAPI document of major `version` (3 or 2), parsed."""
    text = resources.files("pcfx.node").joinpath("data", "pact", _FILES[version]).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _ref(version: int, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{_PREFIX[version]}{name}"}


@cache
def pact_components() -> dict[str, Any]:
    """Component schemas of both PACT versions, prefixed, with their `$ref`s rewritten."""
    schemas: dict[str, Any] = {}
    for version, prefix in _PREFIX.items():
        source = spec_document(version)["components"]["schemas"]
        text = json.dumps(source).replace('"#/components/schemas/', f'"#/components/schemas/{prefix}')
        for name, schema in json.loads(text).items():
            schemas[f"{prefix}{name}"] = schema
    return schemas


def _error_response(description: str, version: int = 3) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(version, "Error")}}}


def _errors(version: int, *codes: str) -> dict[str, Any]:
    texts = {
        "400": "Bad request (malformed request, or an invalid access token)",
        "401": "The access token has expired",
        "403": "Access to the footprint was not granted",
        "404": "No such footprint",
        "500": "Internal error",
    }
    return {code: _error_response(texts[code], version) for code in codes}


def _array_parameter(name: str, description: str, *, urn: bool) -> dict[str, Any]:
    items: dict[str, Any] = _ref(3, "Urn") if urn else {"type": "string"}
    return {
        "name": name,
        "in": "query",
        "description": description,
        "explode": True,
        "style": "form",
        "schema": {"type": "array", "items": items},
    }


def _date_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", "format": "date-time"},
    }


_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "description": "The maximum number of footprints to return.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "offset",
        "in": "query",
        "description": "Position in the filtered list (set by the host in pagination links).",
        "schema": {"type": "integer", "minimum": 0},
    },
]

_ID_PARAMETER = [
    {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
]


def _list_ok(version: int) -> dict[str, Any]:
    return {
        "description": 'The footprints (one page; a `Link: rel="next"` header points at the next one).',
        "headers": {"link": {"description": "RFC 8288 link to the next page", "schema": {"type": "string"}}},
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"type": "array", "items": _ref(version, "ProductFootprint")}},
                }
            }
        },
    }


def _get_ok(version: int) -> dict[str, Any]:
    return {
        "description": "The footprint.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": _ref(version, "ProductFootprint")},
                }
            }
        },
    }


def _events(version: int) -> dict[str, Any]:
    events = ["RequestCreatedEvent", "RequestFulfilledEvent", "RequestRejectedEvent", "PublishedEvent"]
    return {
        "security": _BEARER,
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": {
                    "schema": {"oneOf": [_ref(version, name) for name in events]}
                }
            },
        },
        "responses": {
            "200": {"description": "The event was accepted."},
            **_errors(version, "400", "401", "403", "500"),
        },
    }


_OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}

TOKEN: dict[str, Any] = {
    "security": [{"PactClientBasicAuth": []}],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "An access token (RFC 6749 section 5.1).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["access_token", "token_type", "expires_in"],
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"type": "string", "enum": ["Bearer"]},
                            "expires_in": {"type": "integer"},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        },
        "400": {
            "description": "Malformed token request",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
        "401": {
            "description": "Client authentication failed",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
    },
}

DISCOVERY: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "OpenID Provider metadata naming the token endpoint.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["issuer", "token_endpoint"],
                        "properties": {"issuer": {"type": "string"}, "token_endpoint": {"type": "string"}},
                    }
                }
            },
        },
        "400": _error_response("HTTPS is required"),
    }
}

LIST_V3: dict[str, Any] = {
    "security": _BEARER,
    "parameters": [
        *_PAGING,
        _array_parameter(
            "productId", "Footprints with one of these product ids (case-insensitive).", urn=True
        ),
        _array_parameter(
            "companyId", "Footprints with one of these company ids (case-insensitive).", urn=True
        ),
        _array_parameter(
            "geography", "Footprints of one of these geographies (case-insensitive).", urn=False
        ),
        _array_parameter("classification", "Footprints with one of these classifications.", urn=True),
        _date_parameter("validOn", "Footprints valid at this instant."),
        _date_parameter("validAfter", "Footprints whose validity starts after this instant."),
        _date_parameter("validBefore", "Footprints whose validity ends before this instant."),
        {
            "name": "status",
            "in": "query",
            "description": "Active or Deprecated (case-insensitive).",
            "schema": {"type": "string", "enum": ["Active", "Deprecated"]},
        },
    ],
    "responses": {"200": _list_ok(3), **_errors(3, "400", "401", "403", "500")},
}

GET_V3: dict[str, Any] = {
    "security": _BEARER,
    "parameters": _ID_PARAMETER,
    "responses": {"200": _get_ok(3), **_errors(3, "400", "401", "403", "404", "500")},
}

EVENTS_V3: dict[str, Any] = _events(3)

LIST_V2: dict[str, Any] = {
    "security": _BEARER,
    "parameters": [
        *_PAGING,
        {
            "name": "$filter",
            "in": "query",
            "description": "OData v4 filter expression (PACT v2.x subset).",
            "schema": {"type": "string"},
        },
    ],
    "responses": {"200": _list_ok(2), **_errors(2, "400", "401", "403", "500")},
}

# PACT v2.x tech specs (and the v2 conformance suite) name the 404 code NoSuchFootprint, which the v2.3
# OpenAPI Error enumeration lacks; the node documents what it sends.
_NO_SUCH_FOOTPRINT = {
    "description": "No such footprint (PACT v2.x error code NoSuchFootprint)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ["NoSuchFootprint"]},
                    "message": {"type": "string"},
                },
            }
        }
    },
}

GET_V2: dict[str, Any] = {
    "security": _BEARER,
    "parameters": _ID_PARAMETER,
    "responses": {"200": _get_ok(2), **_errors(2, "400", "401", "403", "500"), "404": _NO_SUCH_FOOTPRINT},
}

EVENTS_V2: dict[str, Any] = _events(2)

_SECURITY_SCHEMES = {
    "PactBearerAuth": {
        "description": "OAuth2 Client Credentials Grant (RFC 6749 section 4.4)",
        "type": "oauth2",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/auth/token",
                "scopes": {
                    "footprint:list": "Ability to list footprints",
                    "footprint:read": "Ability to access individual footprints",
                },
            }
        },
    },
    "PactClientBasicAuth": {"type": "http", "scheme": "basic", "description": "client_id:client_secret"},
}


def extend_app_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` include the PACT component schemas and security schemes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        components = document.setdefault("components", {})
        components.setdefault("schemas", {}).update(copy.deepcopy(pact_components()))
        components.setdefault("securitySchemes", {}).update(copy.deepcopy(_SECURITY_SCHEMES))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]

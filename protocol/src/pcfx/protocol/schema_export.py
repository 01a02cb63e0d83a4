"""JSON Schemas of the pcfx wire formats, generated from the pydantic models.

``python -m pcfx.protocol.schema_export [DIR]`` writes one file per entry of :data:`SCHEMA_MODELS`
into DIR (default: ``schemas/`` in the current directory: run it from the repository root). Keys are file names; each schema's ``$id`` is
:data:`SCHEMA_BASE_URL` + file name, which is where a node serves it (the accounting extension's
``dataSchema`` URL is one of them). To publish another model, add it to SCHEMA_MODELS and regenerate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pcfx.protocol.accounting import AccountingFacts
from pcfx.protocol.declaration import Declaration
from pcfx.protocol.pact.v2 import ProductFootprintV2
from pcfx.protocol.pact.v3 import ProductFootprint
from pcfx.protocol.registry import TrustRegistry
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["SCHEMA_BASE_URL", "SCHEMA_MODELS", "generate", "main", "render", "write"]

SCHEMA_BASE_URL = "https://pcfx.dev/schemas/"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "footprint-v3.json": ProductFootprint,
    "footprint-v2.json": ProductFootprintV2,
    "accounting-v1.json": AccountingFacts,
    "declaration-v1.json": Declaration,
    "registry-v1.json": TrustRegistry,
}


class _Generator(GenerateJsonSchema):
    # Titles derived from Python field names ("Declaredunitamount") only add noise to a wire schema.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def generate() -> dict[str, dict[str, Any]]:
    """Every published schema, keyed by file name."""
    out: dict[str, dict[str, Any]] = {}
    for filename, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_Generator)
        out[filename] = {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_BASE_URL + filename, **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    """The checked-in text of a schema: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, schema in generate().items():
        path = directory / filename
        path.write_text(render(schema), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the schema files."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else Path.cwd() / "schemas"
    for path in write(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

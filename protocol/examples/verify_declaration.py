from pathlib import Path

from pcfx.protocol import verify_declaration, verify_registry

registry = verify_registry(Path("registry.json").read_bytes(), Path("operator.pub").read_text().strip())
result = verify_declaration(Path("declaration.json").read_bytes(), registry=registry)
print(result.detail if result.ok else f"rejected: {result.reason}: {result.detail}")

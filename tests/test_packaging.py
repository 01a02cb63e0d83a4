"""The distribution ships every package and keeps protocol/ free of node/."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _package_dirs() -> dict[str, str]:
    found = {}
    for top, name in (("protocol", "pcfx.protocol"), ("node", "pcfx.node")):
        for init in sorted((ROOT / top).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            if "migrations" in rel.parts and "versions" in rel.parts:
                continue
            dotted = ".".join([name, *rel.parts[1:]])
            found[dotted] = rel.as_posix()
    return found


def test_every_package_directory_is_listed_for_setuptools():
    tool = _pyproject()["tool"]["setuptools"]
    for dotted, path in _package_dirs().items():
        assert dotted in tool["packages"], f"add {dotted!r} to [tool.setuptools] packages"
        assert tool["package-dir"].get(dotted) == path, f'add "{dotted}" = "{path}" to package-dir'


def test_protocol_never_imports_node():
    for source in (ROOT / "protocol").rglob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("pcfx.node"), f"{source.relative_to(ROOT)} imports {name}"

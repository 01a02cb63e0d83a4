"""The repository's layout: two distributions sharing the `pcfx` namespace, each module's folder path its
import path below a source root, protocol/ free of node/, and no module over 500 lines."""

from __future__ import annotations

import ast
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = {"pcfx.protocol": ROOT / "protocol" / "src", "pcfx.node": ROOT / "node" / "src"}
MAX_MODULE_LINES = 500

#: What the wire contract needs; anything beyond this would make a verifier install the node.
#: joserfc: buyer-only declarations are JWEs, which a buyer must open before it verifies (it depends on
#: cryptography alone).
PROTOCOL_DEPENDENCIES = {
    "pydantic",
    "cryptography",
    "pynacl",
    "based58",
    "orjson",
    "msgspec",
    "rfc8785",
    "joserfc",
}


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def _requirement_name(requirement: str) -> str:
    for stop in "<>=!~[ ;@":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def _modules(package: str) -> list[Path]:
    root = SOURCE_ROOTS[package]
    return sorted(root.joinpath(*package.split(".")).rglob("*.py"))


@pytest.mark.parametrize(
    ("pyproject", "source_root"),
    [(ROOT / "pyproject.toml", "node/src"), (ROOT / "protocol" / "pyproject.toml", "src")],
    ids=["pcfx", "pcfx-protocol"],
)
def test_each_distribution_finds_its_packages_below_one_source_root_without_renaming(
    pyproject: Path, source_root: str
):
    setuptools = _pyproject(pyproject)["tool"]["setuptools"]
    assert "package-dir" not in setuptools, "no package-dir mapping: the folder path is the import path"
    assert setuptools["packages"]["find"]["where"] == [source_root]
    assert setuptools["packages"]["find"]["namespaces"] is True


def test_pcfx_is_a_namespace_shared_by_both_distributions():
    for root in SOURCE_ROOTS.values():
        assert not (root / "pcfx" / "__init__.py").exists(), f"{root}/pcfx must stay a PEP 420 namespace"


def test_every_python_package_folder_has_an_init():
    for package in SOURCE_ROOTS:
        for module in _modules(package):
            folder = module.parent
            if folder.name == "versions":  # Alembic revisions are files it loads, not a package
                continue
            assert (folder / "__init__.py").exists(), f"{folder.relative_to(ROOT)} lacks __init__.py"


def test_protocol_depends_only_on_what_the_wire_contract_needs():
    declared = {
        _requirement_name(r)
        for r in _pyproject(ROOT / "protocol" / "pyproject.toml")["project"]["dependencies"]
    }
    assert declared <= PROTOCOL_DEPENDENCIES, (
        f"protocol must not need {sorted(declared - PROTOCOL_DEPENDENCIES)}"
    )


def test_the_node_depends_on_the_protocol_at_its_version():
    protocol = _pyproject(ROOT / "protocol" / "pyproject.toml")["project"]
    node = _pyproject(ROOT / "pyproject.toml")["project"]
    assert f"pcfx-protocol=={protocol['version']}" in node["dependencies"]


def test_protocol_never_imports_node():
    for source in _modules("pcfx.protocol"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("pcfx.node"), f"{source.relative_to(ROOT)} imports {name}"


def test_no_module_is_over_500_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for package in SOURCE_ROOTS
        for path in _modules(package)
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these modules along their seams: {too_long}"


def test_an_editable_install_is_a_plain_path_entry_static_tools_follow():
    site = Path(sysconfig.get_paths()["purelib"])
    pth_files = sorted(site.glob("__editable__.pcfx*.pth"))
    if not pth_files:
        pytest.skip("pcfx is not installed in editable mode in this environment")
    entries = {line.strip() for pth in pth_files for line in pth.read_text().splitlines() if line.strip()}
    assert entries == {str(root) for root in SOURCE_ROOTS.values()}, "no import hook, only source roots"
    assert all(str(root) in sys.path for root in SOURCE_ROOTS.values())

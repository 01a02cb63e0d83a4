"""Starting `pcfx` loads only the command-line layer: every command module imports its heavy dependencies
(unit system, solver, database, HTTP server, NATS client) inside the commands that use them.

Each check runs in a fresh interpreter, because this test process has long since imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

from pcfx.node.cli.identity_cmd import STATUS_INDEXES, RoleChoice
from pcfx.protocol.registry import Role
from pcfx.protocol.status import MIN_ENTRIES

HEAVY = ("pint", "scipy", "numpy", "fastapi", "sqlalchemy", "sqlmodel", "alembic", "nats")


def _loaded_after(code: str) -> list[str]:
    """The HEAVY top-level packages in sys.modules after running `code` in a fresh interpreter."""
    probe = (
        "import io, json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _run_cli(*args: str) -> str:
    # main() ends with SystemExit; its output is captured so that only the probe's line reaches stdout
    return (
        "from contextlib import redirect_stdout\n"
        "from pcfx.node.cli.app import main\n"
        f"sys.argv = ['pcfx', *{list(args)!r}]\n"
        "with redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
    )


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import pcfx.node.cli.app") == []


def test_help_builds_every_command_without_heavy_libraries():
    # typer resolves every command's parameter annotations when it builds the command tree for --help
    assert _loaded_after(_run_cli("--help")) == []


def test_rules_list_loads_neither_units_nor_solver():
    assert _loaded_after(_run_cli("rules", "list", "--json")) == []


def test_importing_the_unit_system_defers_pint_to_first_use():
    code = (
        "from pcfx.node.engine import units\n"
        "assert 'pint' not in sys.modules\n"
        "assert units.conversion_factor('t', 'kg') == 1000\n"
    )
    assert "pint" in _loaded_after(code)


def test_role_choices_are_the_registry_roles():
    assert [c.value for c in RoleChoice] == [r.value for r in Role]


def test_status_index_bound_is_the_status_list_length():
    assert STATUS_INDEXES == MIN_ENTRIES

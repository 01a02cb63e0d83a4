"""Every `pcfx` command answers --help (a broken help text is the first thing a new user meets)."""

from __future__ import annotations

import pytest
import typer
from pcfx.node.cli.app import app
from typer.testing import CliRunner


def _command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    # typer vendors its own click, so groups are recognised by their sub-commands
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


PATHS = _command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "pcfx")
def test_help_renders(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_an_error_about_a_path_with_brackets_prints_the_path_as_it_is(tmp_path):
    home = tmp_path / "[red]home"
    home.mkdir()
    result = CliRunner().invoke(app, ["products", "--home", str(home)])
    assert result.exit_code == 2
    assert f"no pcfx.toml in {home}" in result.output

"""Container, compose and Kubernetes files name only settings the node actually has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pcfx.node.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# read by deploy/container/entrypoint.sh for the first start, not by Settings
ENTRYPOINT_ONLY = {"PCFX_COMPANY_NAME", "PCFX_COMPANY_ID", "PCFX_WEB_DOMAIN", "PCFX_HOME"}


def _settings_env_names() -> set[str]:
    return {f"PCFX_{name.upper()}" for name in Settings.model_fields}


def _named_variables(text: str) -> set[str]:
    return set(re.findall(r"\bPCFX_[A-Z_]+\b", text))


def test_compose_and_k8s_files_are_valid_yaml():
    for path in [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]:
        documents = list(yaml.safe_load_all(path.read_text()))
        assert documents and all(isinstance(d, dict) for d in documents), path


def test_every_pcfx_variable_in_deploy_files_is_a_node_setting():
    known = _settings_env_names() | ENTRYPOINT_ONLY
    files = [DEPLOY / "compose.yaml", *DEPLOY.glob("k8s/*.yaml"), *DEPLOY.glob("container/*")]
    for path in files:
        unknown = _named_variables(path.read_text()) - known
        assert not unknown, (
            f"{path.relative_to(DEPLOY)} names {sorted(unknown)}, which pcfx.node.config lacks"
        )


def test_node_listens_where_the_manifests_expect():
    assert Settings.model_fields["http_port"].default == 8787
    assert "8787" in (DEPLOY / "container" / "Containerfile").read_text()

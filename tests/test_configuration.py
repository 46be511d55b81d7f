"""The composition root: every file of every kind checked at once, each problem at file:line:column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.configuration import load_configuration
from chalicelib.connectors.definition import Connector
from chalicelib.dispatch.subscribers import Subscribers
from chalicelib.errors import ConfigError
from chalicelib.mapping import MappingSet
from chalicelib.triggers.config import TriggerConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def config_root(tmp_path: Path) -> Path:
    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_the_shipped_files_load_into_one_typed_configuration():
    config = load_configuration(ROOT)
    assert isinstance(config.mappings, MappingSet) and isinstance(config.triggers, TriggerConfig)
    assert isinstance(config.subscribers, Subscribers)
    assert all(isinstance(c, Connector) for c in config.connectors.values())
    assert config.consent_opt_in == ("meeting_recording", "trial_behaviour")


def test_problems_of_several_kinds_and_files_come_together(config_root: Path):
    (config_root / "mappings" / "consent_policy.yaml").write_text("kind: consent_policy\nopt_in: [meeting_recording, gossip]\nextra: 1\n")
    (config_root / "connectors" / "odd.yaml").write_text("kind: connecter\n")
    (config_root / "connectors" / "bad.yaml").write_text("kind: connector\nname: bad name\ntype: generic_json\nsystm: x\n")
    with pytest.raises(ConfigError) as info:
        load_configuration(config_root)
    found = {str(p) for p in info.value.problems}
    assert any(p.startswith("mappings/consent_policy.yaml:2:29: opt_in[1]: expected one of") for p in found), found
    assert "mappings/consent_policy.yaml:3:1: extra: unknown field 'extra' (expected one of: kind, opt_in)" in found
    assert any(p.startswith("connectors/odd.yaml:1:7: kind: unknown kind 'connecter'") for p in found), found
    assert any(p.startswith("connectors/bad.yaml:2:7: name: String should match pattern") for p in found), found
    assert "connectors/bad.yaml:4:1: systm: unknown field 'systm'; did you mean 'system'?" in found


def test_a_bad_stream_schedule_is_reported_at_its_line(config_root: Path):
    text = (
        "kind: connector\nname: acme\ntype: generic_rest\napi:\n  base_url: https://acme.example\n"
        "  auth: {type: bearer, token: {env: ACME_TOKEN}}\nstreams:\n  - name: customers\n    object: customer\n"
        "    schedule: every tuesday\n"
        "    endpoint: /customers\n    records_path: items\n    pagination: {style: none}\n    id_field: id\n    cursor_field: updated\n"
    )
    (config_root / "connectors" / "acme.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_configuration(config_root)
    (problem,) = [p for p in info.value.problems if p.file == "connectors/acme.yaml"]
    assert (problem.line, problem.field) == (10, "streams[0].schedule") and "'15m'" in problem.message, problem

"""The door reads only the connector files when the build showed the whole configuration loads, and never otherwise."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import parsed_cache
from chalicelib.configuration import load_configuration
from chalicelib.errors import ConfigError
from tests.stack import ADMIN_TOKEN, DEMO_SECRET, demo_body, drain, post_demo

PROJECT = Path(__file__).resolve().parents[2]
BROKEN_MAPPING = "kind: mapping\nname: broken\nsurprise: 1\n"


def reset() -> None:
    from chalicelib import configuration
    from chalicelib.api import auth
    from chalicelib.ingress import door
    from chalicelib.runtime import settings
    from chalicelib.runtime.secrets import default_resolver

    settings.reset_settings()
    configuration.reset()
    door.reset_connectors()
    auth.reset_cache()
    default_resolver().clear()
    parsed_cache._loaded.clear()


@pytest.fixture()
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped configuration with the cache a package build writes: checked, so it loads."""
    root = tmp_path / "config"
    for folder in parsed_cache.FOLDERS:
        shutil.copytree(PROJECT / folder, root / folder)
    load_configuration(root)
    parsed_cache.write(root, checked=True)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(root))
    reset()
    yield root
    reset()


def whole_configuration_loaded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the door's loads of the whole configuration (chalicelib.configuration.current)."""
    from chalicelib import configuration

    calls: list[int] = []
    real = configuration.current

    def counted() -> Any:
        calls.append(1)
        return real()

    monkeypatch.setattr(configuration, "current", counted)
    return calls


# ----------------------------------------------------------------------------- which files the door reads
def test_as_built_the_door_reads_only_the_connector_files(built: Path, monkeypatch: pytest.MonkeyPatch):
    from chalicelib.ingress.door import door_connectors

    whole = whole_configuration_loaded(monkeypatch)
    connectors = door_connectors()
    assert sorted(connectors) == sorted(load_configuration(built).connectors) and "demo_crm" in connectors
    assert connectors["demo_crm"].webhook is not None
    assert door_connectors() is connectors, "read once per container"
    assert whole == []


@pytest.mark.parametrize(
    "change",
    [
        "a mapping edited after the build",
        "a mapping added after the build",
        "a mapping removed after the build",
        "a cache that says nothing was checked",
        "a damaged cache",
    ],
)
def test_anything_but_the_checked_files_loads_the_whole_configuration(built: Path, monkeypatch: pytest.MonkeyPatch, change: str):
    from chalicelib.ingress.door import door_connectors

    mapping = built / "mappings" / "demo_crm_customer.yaml"
    cache = built / parsed_cache.FILE_NAME
    if change == "a mapping edited after the build":
        mapping.write_text(mapping.read_text() + "\n# edited\n")
    elif change == "a mapping added after the build":
        shutil.copy(mapping, built / "mappings" / "copy_of_demo_crm_customer.yml")
    elif change == "a mapping removed after the build":
        (built / "mappings" / "hubspot_notes.yaml").unlink()
    elif change == "a cache that says nothing was checked":
        cache.write_text(json.dumps(dict(json.loads(cache.read_text()), checked=False)))
    else:
        cache.write_text(cache.read_text()[:1000])
    whole = whole_configuration_loaded(monkeypatch)
    try:
        door_connectors()
    except ConfigError:
        assert change == "a mapping added after the build", "a second mapping of the same name is a problem of the whole"
    assert whole == [1]


def test_a_configuration_broken_after_the_build_still_closes_the_door(built: Path):
    from chalicelib.ingress.door import door_connectors

    (built / "mappings" / "broken.yaml").write_text(BROKEN_MAPPING)
    with pytest.raises(ConfigError) as caught:
        door_connectors()
    assert any(p.file == "mappings/broken.yaml" for p in caught.value.problems)


def test_loads_as_built_needs_every_file_with_its_digest(built: Path):
    assert parsed_cache.loads_as_built(built)
    (built / "connectors" / "notes.yaml").write_text("kind: connector\n")
    parsed_cache._loaded.clear()
    assert not parsed_cache.loads_as_built(built)
    (built / "connectors" / "notes.yaml").unlink()
    assert parsed_cache.loads_as_built(built)
    parsed_cache.write(built)  # written without the check
    parsed_cache._loaded.clear()
    assert not parsed_cache.loads_as_built(built)


# ----------------------------------------------------------------------------- through the app
@pytest.fixture()
def app_as_built(aws: Any, built: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalice.test import Client

    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SALESBRIDGE_PII_KEY", "test-pii-key")
    monkeypatch.setenv("DEMO_CRM_WEBHOOK_SECRET", DEMO_SECRET)
    reset()
    import app as application

    with Client(application.app, stage_name="local") as client:
        yield client


def test_a_delivery_taken_on_the_connector_files_alone_is_processed_with_the_whole_configuration(app_as_built: Any, monkeypatch):
    from chalicelib.api.admin import entity_state
    from chalicelib.runtime.settings import get_settings

    whole = whole_configuration_loaded(monkeypatch)
    assert app_as_built.http.get("/health").status_code == 200
    response = post_demo(app_as_built, demo_body(tier="Gold"))
    assert response.status_code == 202, response.body
    assert whole == [], "the door did not load the mappings, triggers or rules"
    drain()
    assert whole, "the processor did"
    state = entity_state(get_settings(), {"source": "demo_crm/customer/C-1001"})
    assert state["fields"]["grade"] == "A"


def test_after_an_edit_that_breaks_the_configuration_the_door_answers_503_and_takes_nothing(app_as_built: Any, built: Path):
    (built / "mappings" / "broken.yaml").write_text(BROKEN_MAPPING)
    health = app_as_built.http.get("/health")
    assert health.status_code == 503 and json.loads(health.body)["error"] == "configuration_invalid"
    response = post_demo(app_as_built, demo_body())
    assert response.status_code == 503 and json.loads(response.body)["error"] == "configuration_invalid"
    assert drain() == 0, "nothing was queued"

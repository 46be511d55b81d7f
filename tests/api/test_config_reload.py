"""On the local stack an edited mapping takes effect without a restart; a broken edit does not."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_local_stack_picks_up_edits_and_keeps_running_on_a_broken_one(tmp_path, monkeypatch):
    from chalicelib import configuration as loader
    from chalicelib.runtime import settings

    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SALESBRIDGE_STAGE", "local")
    monkeypatch.setattr(loader, "LOCAL_RECHECK_SECONDS", 0.0)
    settings.reset_settings()
    loader.reset()
    try:
        first = loader.current().mappings.mappings["demo_crm_customer"].version
        path = tmp_path / "mappings" / "demo_crm_customer.yaml"
        path.write_text(path.read_text().replace("Platinum: S", "Platinum: S, Titanium: S"))
        time.sleep(0.01)
        edited = loader.current().mappings.mappings["demo_crm_customer"].version
        assert edited != first
        path.write_text(path.read_text().replace("Titanium: S", "Titanium: Z"))  # not on the grade scale
        assert loader.current().mappings.mappings["demo_crm_customer"].version == edited
    finally:
        loader.reset()
        settings.reset_settings()

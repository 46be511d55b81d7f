from __future__ import annotations

import pytest

from tests.faults.harness import Harness, config_dir, reset_caches, snapshot
from tests.faults import workload

_reference: dict[str, object] = {}


@pytest.fixture()
def harness(aws, monkeypatch, tmp_path):
    """The app on a fresh AWS stand-in, configured with the shipped files plus the test-only ERP."""
    from chalice.test import Client

    from tests.stack import ADMIN_TOKEN, DEMO_SECRET

    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SALESBRIDGE_PII_KEY", "test-pii-key")
    monkeypatch.setenv("DEMO_CRM_WEBHOOK_SECRET", DEMO_SECRET)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(config_dir(tmp_path)))
    reset_caches()
    import app as application

    with Client(application.app, stage_name="local") as client:
        yield Harness(client, aws).install(fresh=False)  # the aws fixture has just reset the stand-in
    reset_caches()


@pytest.fixture()
def reference(harness):
    """What the workload leaves behind without faults (computed once per test process, then a fresh stand-in)."""
    if "snapshot" not in _reference:
        workload.run(harness)
        _reference["snapshot"] = snapshot()
        _reference["tap"] = harness.tap()
        harness.install()
    return _reference["snapshot"]

"""The schedule handler pulls a vendor API into the queue; the records go through the pipeline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.stack import get_json
from tests.vendor_servers.configs import salesforce_connector_file

ROOT = Path(__file__).resolve().parents[2]


SCHEDULE_EVENT = {
    "version": "0",
    "id": "x",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "1",
    "time": "2026-11-25T00:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


class _Context:
    function_name = "scheduled_sync"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


@pytest.fixture()
def salesforce_server():
    from tests.vendor_servers.salesforce import SalesforceServer

    server = SalesforceServer(30)
    yield server
    server.stop()


def config_dir(tmp_path: Path, url: str, schedule: str = "15m") -> Path:
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "connectors", tmp_path / "connectors")
    (tmp_path / "connectors" / "salesforce.yaml").write_text(salesforce_connector_file(url, schedule=schedule))
    return tmp_path


def test_schedule_syncs_accounts_into_golden_records(stack, salesforce_server, tmp_path, monkeypatch):
    import app as application
    from chalicelib import configuration as loader
    from tests.stack import drain

    url = salesforce_server.url
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(config_dir(tmp_path, url)))
    monkeypatch.setenv("SF_CLIENT_SECRET", "s3cr3t")
    from chalicelib.runtime import settings

    settings.reset_settings()
    loader.reset()
    event = SCHEDULE_EVENT
    result = application.scheduled_sync(event, _Context())
    runs = {(r["connector"], r["stream"]): r for r in result["runs"]}
    assert runs.pop(("salesforce", "accounts")) == {
        "connector": "salesforce",
        "stream": "accounts",
        "status": "synced",
        "records": 30,
        "reason": "caught_up",
    }
    # the other shipped streams have no credentials stored here: each fails alone, clearly, without stopping the rest
    assert runs and all(r["status"] == "failed" and "ParameterNotFound" in r["reason"] for r in runs.values())
    from chalicelib.runtime import queue

    assert queue.depth(os.environ["BULK_QUEUE_URL"]) == 30 and queue.depth(os.environ["INBOUND_QUEUE_URL"]) == 0  # the bulk lane
    assert drain() == 30
    some_id = next(iter(salesforce_server.dataset.records))
    status, state = get_json(stack, f"/state?source=salesforce/customer/{some_id}")
    assert status == 200, state

    again = application.scheduled_sync(event, _Context())
    assert (
        next(r for r in again["runs"] if r["connector"] == "salesforce")["status"] == "not_due"
    )  # schedule 15m: the lease says it ran just now


def test_a_bad_schedule_is_a_config_error_with_file_and_line(tmp_path):
    from chalicelib.configuration import load_configuration
    from chalicelib.errors import ConfigError

    root = config_dir(tmp_path, "https://example.invalid", schedule="whenever")
    with pytest.raises(ConfigError) as caught:
        load_configuration(root)
    problem = next(p for p in caught.value.problems if "schedule" in p.field)
    assert problem.file == "connectors/salesforce.yaml" and problem.line == 19


def test_a_pulled_record_too_large_for_a_queue_message_is_quarantined_and_the_sync_goes_on(stack, salesforce_server, tmp_path, monkeypatch):
    """The door answers such a record with a 413; a sync cannot refuse a page, so the record is quarantined with its reason.

    Raising instead would leave the watermark before the page and stop every later run at the same record.
    """
    import app as application
    from chalicelib import configuration as loader
    from chalicelib.runtime import queue, settings
    from tests.stack import ADMIN, drain

    big_id = sorted(salesforce_server.dataset.records)[12]  # on the second page of ten
    salesforce_server.dataset.records[big_id]["name"] = "N" * 1_100_000
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(config_dir(tmp_path, salesforce_server.url)))
    monkeypatch.setenv("SF_CLIENT_SECRET", "s3cr3t")
    settings.reset_settings()
    loader.reset()
    result = application.scheduled_sync(SCHEDULE_EVENT, _Context())
    run = next(r for r in result["runs"] if r["connector"] == "salesforce")
    assert run["status"] == "synced" and run["reason"] == "caught_up", run  # the watermark moved past the page
    assert queue.depth(os.environ["BULK_QUEUE_URL"]) == 29
    assert drain() == 29

    status, listed = get_json(stack, "/quarantine")
    assert status == 200, listed
    [entry] = listed["records"]
    assert entry["code"] == "record_too_large" and entry["connector"] == "salesforce", entry
    assert str(queue.MAX_MESSAGE_BYTES) in entry["message"]
    status, shown = get_json(stack, f"/quarantine/{entry['id']}")
    assert status == 200 and len(shown["input"]["payload"]["Name"]) == 1_100_000, str(shown)[:300]  # kept whole (claim check to S3)
    replayed = stack.http.post(f"/quarantine/{entry['id']}/replay", headers=ADMIN, body=b"")
    assert replayed.status_code == 200, replayed.body  # a replay runs in-process: no queue message to outgrow

"""The salesbridge command line: local config tools and the backfill command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.sync.test_scheduled_sync import config_dir

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True, env=env or dict(os.environ), timeout=60
    )


def test_config_validate_passes_on_the_shipped_files():
    result = run_cli("config", "validate")
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout


def test_config_validate_names_file_line_and_field(tmp_path):
    root = config_dir(tmp_path, "https://example.invalid")
    (root / "connectors" / "demo_crm.yaml").write_text(
        "kind: connector\nname: demo_crm\ntype: generic_json\n"
        "webhook:\n  scheme: generic_hmac\n  header: X-Sig\n  secrets: [plain-secret]\n"
    )
    result = run_cli("config", "validate", "--root", str(root))
    assert result.returncode == 1
    assert "connectors/demo_crm.yaml:7:" in result.stderr and "secret" in result.stderr


def test_mappings_test_runs_every_shipped_example():
    result = run_cli("mappings", "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_operator_commands_need_a_token_and_say_so():
    env = {k: v for k, v in os.environ.items() if k != "SALESBRIDGE_TOKEN"}
    result = run_cli("--url", "http://127.0.0.1:9", "--token", "x", "events", env=env)
    assert result.returncode == 2 and "cannot reach" in result.stderr


def test_bad_arguments_are_usage_errors_not_tracebacks():
    result = run_cli("quarantine", "replay")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_backfill_enqueues_every_record_with_progress(aws, tmp_path):
    from tests.vendor_servers.salesforce import SalesforceServer

    server = SalesforceServer(25)
    try:
        root = config_dir(tmp_path, server.url)
        env = dict(os.environ, SF_CLIENT_SECRET="s3cr3t")
        result = run_cli("backfill", "salesforce", "accounts", "--root", str(root), env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["records"] == 25
        assert "25 records" in result.stderr
        again = run_cli("backfill", "salesforce", "accounts", "--root", str(root), env=env)
        assert json.loads(again.stdout)["records"] == 0  # resumes from the watermark: nothing new
    finally:
        server.stop()
    from chalicelib.runtime import aws as clients

    def waiting(lane: str) -> int:
        attrs = clients.client("sqs").get_queue_attributes(QueueUrl=os.environ[lane], AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    assert waiting("BULK_QUEUE_URL") == 25 and waiting("INBOUND_QUEUE_URL") == 0  # a backfill takes the bulk lane


def test_backfill_without_a_queue_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BULK_QUEUE_URL"}
    result = run_cli("backfill", "salesforce", "accounts", env=env)
    assert result.returncode == 2 and "BULK_QUEUE_URL" in result.stderr


def test_dead_letter_queue_redrive_brings_records_back_and_they_apply_once(stack):
    from chalicelib.runtime import aws as clients
    from tests.stack import demo_body, drain, get_json, post_demo

    sqs = clients.client("sqs")
    post_demo(stack, demo_body())
    message = sqs.receive_message(QueueUrl=os.environ["INBOUND_QUEUE_URL"], AttributeNames=["All"])["Messages"][0]
    # as if the processor had failed it five times: the redrive policy moves it to the dead-letter queue
    sqs.send_message(
        QueueUrl=os.environ["INBOUND_DLQ_URL"],
        MessageBody=message["Body"],
        MessageGroupId=message["Attributes"]["MessageGroupId"],
        MessageDeduplicationId="dlq-1",
    )
    sqs.delete_message(QueueUrl=os.environ["INBOUND_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    assert run_cli("dlq", "count").stdout.count('"dead_letter_messages": 1') == 1
    result = run_cli("dlq", "redrive")
    assert result.returncode == 0 and '"redriven": 1' in result.stdout, result.stderr
    assert drain() == 1
    assert [e["action"] for e in get_json(stack, "/audit?source=demo_crm/customer/C-1001")[1]["entries"]] == ["received", "applied"]


def test_each_lane_s_dead_letters_are_counted_and_redriven_to_their_own_lane(stack):
    import json as _json

    from chalicelib.runtime import aws as clients

    sqs = clients.client("sqs")
    for lane, n in (("INBOUND", 1), ("BULK", 2)):
        for k in range(n):
            sqs.send_message(
                QueueUrl=os.environ[f"{lane}_DLQ_URL"], MessageBody="{}", MessageGroupId=f"g{k}", MessageDeduplicationId=f"{lane}-{k}"
            )
    counted = _json.loads(run_cli("dlq", "count").stdout)
    assert counted == {"dead_letter_messages": 3, "by_lane": {"webhook": 1, "bulk": 2}}
    assert _json.loads(run_cli("dlq", "count", "--lane", "bulk").stdout) == {"dead_letter_messages": 2, "by_lane": {"bulk": 2}}
    redriven = _json.loads(run_cli("dlq", "redrive", "--lane", "bulk").stdout)
    assert redriven == {"redriven": 2, "by_lane": {"bulk": 2}}
    depth = sqs.get_queue_attributes(QueueUrl=os.environ["BULK_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "2"
    assert _json.loads(run_cli("dlq", "count").stdout)["by_lane"] == {"webhook": 1, "bulk": 0}


def test_dlq_without_queues_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ("INBOUND_DLQ_URL", "INBOUND_QUEUE_URL")}
    result = run_cli("dlq", "count", env=env)
    assert result.returncode == 2 and "INBOUND_DLQ_URL" in result.stderr


def test_the_quarantine_runbook_ends_green(tmp_path):
    """The README's fix (add the unknown tier to the map) must not turn a shipped example red."""
    import re
    import shutil

    readme = (ROOT / "README.md").read_text()
    [addition] = re.findall(r"# add  (\w+: \w)  to the map", readme)
    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", folder)
    mapping = folder / "demo_crm_customer.yaml"
    text = mapping.read_text()
    assert "Platinum: S," in text
    mapping.write_text(text.replace("Platinum: S,", f"Platinum: S, {addition},", 1))
    result = run_cli("mappings", "test", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout

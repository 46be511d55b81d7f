"""The README's quick start, as processes: `make run`'s stack, the sample curl, the audit command."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local_server import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the stack exited early"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the API did not come up on {port}")


def wait_for_worker_output(log: Path, receipt: str, timeout: float = 20) -> tuple[dict, dict]:
    """The processed record's log line (by its correlation id) and the EMF line with RecordsApplied."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        records = [line for line in lines if line.get("message") == "record applied" and line.get("correlation_id") == receipt]
        emf = [line for line in lines if "_aws" in line and "RecordsApplied" in line and line.get("connector") == "demo_crm"]
        if records and emf:
            return records[0], emf[0]
        assert time.monotonic() < deadline, f"no JSON record line or EMF metrics in the worker's output:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


def test_quick_start_produces_the_audit_trail_the_readme_promises(tmp_path):
    api_port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SALESBRIDGE_")) and not k.endswith(("_TABLE", "_QUEUE_URL"))}
    env.update(SALESBRIDGE_PORT=str(api_port), SALESBRIDGE_AWS_PORT=str(aws_port), SALESBRIDGE_SYNC_EVERY_SECONDS="3600")
    log = open(tmp_path / "stack.log", "w")
    stack = subprocess.Popen(
        [sys.executable, "-m", "local.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(api_port, stack)
        url = f"http://127.0.0.1:{api_port}"
        sent = subprocess.run(
            ["bash", "-c", readme_block("sample-webhook")], env=dict(env, SALESBRIDGE_URL=url), capture_output=True, text=True, timeout=30
        )
        assert sent.returncode == 0, sent.stderr
        receipt = json.loads(sent.stdout)["receipt_id"]
        assert receipt.startswith("rcp_")

        cli = [str(ROOT / "salesbridge"), "--url", url, "--token", "local-admin-token"]
        deadline = time.monotonic() + 60
        actions: list[str] = []
        while time.monotonic() < deadline:
            shown = subprocess.run(
                cli + ["audit", "--json", "--source", "demo_crm/customer/C-1001"], capture_output=True, text=True, timeout=30
            )
            if shown.returncode == 0:
                actions = [e["action"] for e in json.loads(shown.stdout)["entries"]]
                if "applied" in actions:
                    break
            time.sleep(0.5)
        assert actions == ["received", "applied"], (actions, (tmp_path / "stack.log").read_text()[-3000:])
        verified = subprocess.run(cli + ["verify", "--source", "demo_crm/customer/C-1001"], capture_output=True, text=True, timeout=30)
        assert verified.returncode == 0 and json.loads(verified.stdout)["intact"]
        # The worker's output, as in Lambda: the record's JSON log line with its ids, and the metrics as EMF.
        logged, metrics = wait_for_worker_output(tmp_path / "stack.log", receipt)
        assert logged["connector"] == "demo_crm" and logged["level"] == "INFO" and logged["outcome"] == "applied"
        assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "salesbridge" and metrics["RecordsApplied"] == [1.0]
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            raise AssertionError("Ctrl-C did not stop the stack") from None
        log.close()
    for port in (api_port, aws_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port} after Ctrl-C"

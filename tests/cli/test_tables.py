"""Operator commands print readable tables by default, the API's JSON with --json, and stay quiet
when their reader goes away (``| head``), keeping their exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main as cli
from tests.stack import ADMIN_TOKEN, demo_body, drain, post_demo

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "demo_crm/customer/C-1001"


@pytest.fixture()
def live(stack, served) -> str:
    """The served app with one customer (a grade change) and one quarantined record."""
    assert post_demo(stack, demo_body(tier="Gold")).status_code == 202
    assert post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00", name="长城贸易")).status_code == 202
    assert post_demo(stack, demo_body(customer_id="C-2", tier="Titanium")).status_code == 202
    drain()
    return served


def run(capsys, url: str, *args: str) -> tuple[int, str]:
    code = cli.main(["--url", url, "--token", ADMIN_TOKEN, *args])
    return code, capsys.readouterr().out


def test_operator_views_are_tables_by_default_and_json_with_the_flag(live, capsys):
    code, out = run(capsys, live, "audit", "--source", SOURCE)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("entity: customer#")
    assert lines[1].split() == ["AT", "ACTION", "ACTOR", "CONNECTOR", "MAPPING", "WHAT"]
    assert any("applied" in line and "demo_crm_customer" in line for line in lines) and not out.lstrip().startswith("{")

    code, out = run(capsys, live, "events")
    header, row = out.splitlines()[:2]
    assert code == 0 and header.split() == ["TIME", "TYPE", "SUBJECT", "DELIVERY", "ATTEMPTS", "ID", "TARGETS"]
    assert row.split()[1] == "customer.grade_changed"

    code, out = run(capsys, live, "quarantine", "list")
    header, row = out.splitlines()[:2]
    assert code == 0 and header.split()[:4] == ["ID", "STATUS", "CONNECTOR", "CODE"]
    assert row.split()[1:4] == ["open", "demo_crm", "unknown_value"] and "Titanium" in row

    code, out = run(capsys, live, "state", "--source", SOURCE)
    assert code == 0 and "FIELD" in out and "VALUE" in out
    [name_line] = [line for line in out.splitlines() if line.startswith("name ")]
    assert name_line.split() == ["name", "长城贸易"]
    grade_line = next(line for line in out.splitlines() if line.startswith("grade "))
    assert grade_line.index("S") == name_line.index("长")

    code, out = run(capsys, live, "usage", "--source", SOURCE)
    assert code == 0 and out.startswith("customer:") and "CATEGORY (90 DAYS)" in out and "contact_personal" in out

    code, out = run(capsys, live, "--json", "quarantine", "list")
    assert code == 0 and json.loads(out)["records"][0]["code"] == "unknown_value"
    code, out = run(capsys, live, "state", "--source", SOURCE, "--json")
    assert code == 0 and json.loads(out)["fields"]["name"] == "长城贸易"


def test_erase_takes_extra_identifiers_and_usage_lists_what_it_removed_where(live, capsys):
    code, out = run(capsys, live, "erase", "--source", SOURCE, "--yes", "--identifier", "phone")
    assert code == 2 and out == ""  # KIND=VALUE or nothing is sent
    code, out = run(capsys, live, "state", "--source", SOURCE, "--json")
    customer = json.loads(out)["entity"]
    code, out = run(capsys, live, "erase", "--source", SOURCE, "--yes", "--identifier", "email=buyer@acme.example")
    erased = json.loads(out)
    # C-2's quarantined record carries the same e-mail: the identifier given finds it too
    assert code == 0 and erased["removed"]["inputs"]["deleted"]["raw_input"] == 3, erased
    assert erased["removed"]["quarantine"]["deleted"] == {"record": 1}
    code, out = run(capsys, live, "usage", "--entity", customer)
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ERASED AT"))
    assert lines[header].split() == ["ERASED", "AT", "BY", "TABLE", "DELETED", "MASKED"]
    rows = {line.split()[2]: line for line in lines[header + 1 :]}
    assert set(rows) == set(erased["removed"]) and '{"raw_input":3}' in rows["inputs"]


def test_erase_repeats_the_request_until_the_sweep_is_complete(live, capsys, monkeypatch):
    from chalicelib.api import sovereignty
    from chalicelib.store import erasure

    monkeypatch.setattr(erasure, "PAGE_ITEMS", 2)
    monkeypatch.setattr(sovereignty, "ERASE_MARGIN_SECONDS", float("inf"))  # one page per request
    code = cli.main(["--url", live, "--token", ADMIN_TOKEN, "erase", "--source", SOURCE, "--yes"])
    captured = capsys.readouterr()
    progress = [line for line in captured.err.splitlines() if line.startswith("erasing: ")]  # the local server logs there too
    assert code == 0 and json.loads(captured.out)["complete"] is True
    searched = [int(line.split()[1]) for line in progress]
    assert len(searched) >= 5 and searched == sorted(searched), progress
    assert progress[0].endswith("tables done: none yet") and progress[-1].endswith("tables done: inputs, quarantine, events, audit")


def test_erase_says_when_the_sweep_starts_over_and_still_completes(live, capsys, monkeypatch):
    """A record applied to the customer during the sweep: the CLI says so and keeps repeating the request."""
    from chalicelib.store import erasure

    delete, calls = erasure.delete_if_unchanged, []

    def changed_the_first_time(*args, **kwargs):
        calls.append(1)
        return len(calls) > 1 and delete(*args, **kwargs)

    monkeypatch.setattr(erasure, "delete_if_unchanged", changed_the_first_time)
    code = cli.main(["--url", live, "--token", ADMIN_TOKEN, "erase", "--source", SOURCE, "--yes"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["complete"] is True and len(calls) == 2
    assert "records were applied to the customer meanwhile: every table is searched again" in captured.err


def test_an_api_error_keeps_its_exit_code_with_tables(live, capsys):
    code = cli.main(["--url", live, "--token", ADMIN_TOKEN, "state", "--source", "demo_crm/customer/nobody"])
    assert code == 2 and "404 not_found" in capsys.readouterr().err


def test_long_cells_are_cut_and_wide_characters_count_two_columns():
    from cli.render import cell, table, width

    assert width("长城") == 4 and cell("x" * 100).endswith("…") and width(cell("长" * 100)) <= 60
    lines = table(["A", "B"], [["长城", 1], ["ab", 2]]).splitlines()
    assert [width(line[: line.index(str(n))]) for n, line in zip([1, 2], lines[1:], strict=True)] == [6, 6]


def piped_into_a_closed_reader(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its standard output a pipe nobody reads any more, as `salesbridge … | head -1` does."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args], cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_is_no_traceback_and_keeps_the_exit_code(tmp_path):
    result = piped_into_a_closed_reader("mappings", "test", "-v")
    assert result.returncode == 0 and result.stderr == ""
    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", folder)
    mapping = folder / "demo_crm_customer.yaml"
    mapping.write_text(mapping.read_text().replace("Gold: A", "Gold: B", 1))  # the examples expecting A now fail
    result = piped_into_a_closed_reader("mappings", "test", str(folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr

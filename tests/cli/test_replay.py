"""`quarantine replay --mapping-file`: the edited file's dry run first; applied only once that file is deployed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli import main as cli
from tests.stack import ADMIN_TOKEN, demo_body, drain, post_demo

ROOT = Path(__file__).resolve().parents[2]


def test_replay_with_a_mapping_file_shows_its_dry_run_and_refuses_to_apply_an_undeployed_file(stack, served, tmp_path, capsys):
    assert post_demo(stack, demo_body(tier="Titanium")).status_code == 202
    drain()
    edited = tmp_path / "demo_crm_customer.yaml"
    edited.write_text((ROOT / "mappings" / "demo_crm_customer.yaml").read_text().replace("Platinum: S,", "Platinum: S, Titanium: S,"))
    base = ["--url", served, "--token", ADMIN_TOKEN]
    assert cli.main([*base, "quarantine", "list", "--json"]) == 0
    out = capsys.readouterr().out
    qid = re.search(r'"id": "(q_[^"]+)"', out).group(1)

    assert cli.main([*base, "quarantine", "replay", qid, "--mapping-file", str(edited), "--dry-run"]) == 0
    out = capsys.readouterr().out
    dry = json.loads(out[out.index("{\n") :])
    assert dry["dry_run"] is True and dry["outcome"] == "applied" and dry["record"]["fields"]["grade"] == "S"

    assert cli.main([*base, "quarantine", "replay", qid, "--mapping-file", str(edited)]) == 2
    assert "409 mapping_not_deployed" in capsys.readouterr().err
    assert cli.main([*base, "quarantine", "list"]) == 0
    assert " open " in capsys.readouterr().out  # still quarantined: nothing was applied


def five_quarantined_two_per_request(stack, monkeypatch) -> None:
    """Five open records, and requests that take one page of two records each."""
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 2)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))
    for n in range(5):
        assert post_demo(stack, demo_body(f"C-{n}", tier="Titanium")).status_code == 202
    drain()


def test_replay_by_filter_repeats_the_request_until_every_matching_record_was_taken(stack, served, capsys, monkeypatch):
    five_quarantined_two_per_request(stack, monkeypatch)
    base = ["--url", served, "--token", ADMIN_TOKEN]
    assert cli.main([*base, "quarantine", "replay", "--connector", "demo_crm", "--dry-run"]) == 0
    captured = capsys.readouterr()
    dry = json.loads(captured.out[captured.out.index("{\n") :])
    assert dry["would_replay"] == 5 and dry["complete"] is True and len({r["id"] for r in dry["results"]}) == 5
    progress = [line for line in captured.err.splitlines() if line.startswith("replaying: ")]  # the local server logs there too
    assert progress == ["replaying: 2 records so far", "replaying: 4 records so far"], progress
    assert cli.main([*base, "quarantine", "replay", "--connector", "demo_crm"]) == 0
    out = capsys.readouterr().out
    done = json.loads(out[out.index("{\n") :])
    assert done["replayed"] == 5 and {r["status"] for r in done["results"]} == {"quarantined"}  # the tier is still unknown


def test_discard_needs_a_reason_and_closes_the_record_for_good(stack, served, capsys):
    assert post_demo(stack, demo_body(tier="Titanium")).status_code == 202
    drain()
    base = ["--url", served, "--token", ADMIN_TOKEN, "--actor", "kim"]
    assert cli.main([*base, "quarantine", "list", "--json"]) == 0
    qid = re.search(r'"id": "(q_[^"]+)"', capsys.readouterr().out).group(1)

    assert cli.main([*base, "quarantine", "discard", qid]) == 2
    assert "discard needs --reason" in capsys.readouterr().err
    assert cli.main([*base, "quarantine", "discard", "--reason", "test data"]) == 2
    assert "discard needs an id or a filter" in capsys.readouterr().err

    assert cli.main([*base, "quarantine", "discard", qid, "--reason", "test data"]) == 0
    out = capsys.readouterr().out
    done = json.loads(out[out.index("{") :])
    assert done == {"id": qid, "status": "discarded", "discarded_by": "admin:kim", "reason": "test data"}
    assert cli.main([*base, "quarantine", "discard", qid, "--reason", "again"]) == 2
    assert "409 not_open" in capsys.readouterr().err
    assert cli.main([*base, "quarantine", "list", "--status", "discarded"]) == 0
    assert qid in capsys.readouterr().out


def test_a_filtered_discard_repeats_the_request_until_complete_and_never_takes_everything(stack, served, capsys, monkeypatch):
    five_quarantined_two_per_request(stack, monkeypatch)
    base = ["--url", served, "--token", ADMIN_TOKEN]
    assert cli.main([*base, "quarantine", "discard", "--reason", "flood"]) == 2
    assert "there is no --all for a discard" in capsys.readouterr().err
    assert cli.main([*base, "quarantine", "discard", "--connector", "demo_crm", "--reason", "flood"]) == 0
    captured = capsys.readouterr()
    done = json.loads(captured.out[captured.out.index("{\n") :])
    assert done["discarded"] == 5 and done["complete"] is True and len({r["id"] for r in done["results"]}) == 5
    progress = [line for line in captured.err.splitlines() if line.startswith("discarding: ")]
    assert progress == ["discarding: 2 records so far", "discarding: 4 records so far"], progress

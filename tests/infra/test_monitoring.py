"""Every alarm of a stage is described in the runbook; the door's refusal rate has one."""

from __future__ import annotations

from pathlib import Path

from infra import monitoring, resources

RUNBOOK = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def test_every_alarm_is_in_the_runbook():
    for name in monitoring.alarms(["APIHandler"]):
        generic = name.replace("APIHandler", "<Function>")
        for table in resources.TABLES:
            generic = generic.replace(table.logical_id, "<Table>")
        assert f"`{name}`" in RUNBOOK or f"`{generic}`" in RUNBOOK or name.endswith("NotEmpty"), name


def test_the_door_refusal_rate_is_alarmed():
    alarm = monitoring.alarms([])["DoorRefusalRate"]["Properties"]
    assert alarm["MetricName"] == "DoorRefusals" and alarm["Namespace"] == monitoring.NAMESPACE
    assert alarm["Threshold"] == monitoring.REFUSAL_RATE_LIMIT and alarm["Statistic"] == "Sum"

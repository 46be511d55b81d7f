"""One atomic commit per record: state, audit entries, outbox events, dedupe key.

Everything a record changes goes into a single ``TransactWriteItems`` request,
each state item conditional on the version that was read (optimistic concurrency).
Either all of it is stored or none of it is: a failed attempt never marks an input
as seen and never leaves an event without its state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import ConflictError, EventAlreadyStored
from chalicelib.runtime import aws
from chalicelib.store import dynamo

MAX_ITEMS = 100


def version_of(item: dict[str, Any] | None) -> int | None:
    """The version an item was read at (None: it did not exist)."""
    return int(item["version"]) if item and "version" in item else None


@dataclass
class Commit:
    state_table: str
    audit_table: str
    events_table: str
    states: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)  # (item, version read or None)
    audits: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    others: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, item) written unconditionally
    updates: list[dict[str, Any]] = field(default_factory=list)  # raw Update actions

    def put_state(self, item: dict[str, Any], read_version: int | None) -> None:
        item = dict(item)
        item["version"] = (read_version or 0) + 1
        self.states.append((item, read_version))

    def actions(self) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for item, version in self.states:
            put: dict[str, Any] = {"TableName": self.state_table, "Item": dynamo.to_item(item)}
            if version is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "version = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
            actions.append({"Put": put})
        for item in self.audits:
            actions.append(
                {"Put": {"TableName": self.audit_table, "Item": dynamo.to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}
            )
        for item in self.events:
            actions.append(
                {"Put": {"TableName": self.events_table, "Item": dynamo.to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}
            )
        for table, item in self.others:
            actions.append({"Put": {"TableName": table, "Item": dynamo.to_item(item)}})
        actions.extend({"Update": u} for u in self.updates)
        return actions

    def execute(self) -> None:
        actions = self.actions()
        if len(actions) > MAX_ITEMS:
            raise ValueError(f"a record's commit has {len(actions)} items; DynamoDB allows {MAX_ITEMS}")
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=actions)
        except ClientError as exc:
            self._raise_for(exc, actions)

    def _raise_for(self, exc: ClientError, actions: list[dict[str, Any]]) -> None:
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionConflictException":
            raise ConflictError(str(exc)) from exc
        if code != "TransactionCanceledException":
            raise exc
        reasons = exc.response.get("CancellationReasons") or []
        duplicate_events = []
        for action, reason in zip(actions, reasons, strict=False):
            failed = reason.get("Code")
            if failed in (None, "None"):
                continue
            table = action.get("Put", action.get("Update", {})).get("TableName")
            if failed == "ConditionalCheckFailed" and table == self.events_table:
                duplicate_events.append(action["Put"]["Item"]["pk"]["S"])
            elif failed in ("ConditionalCheckFailed", "TransactionConflict"):
                raise ConflictError(f"{table}: {failed}") from exc
            else:
                raise exc
        if duplicate_events:
            raise EventAlreadyStored(duplicate_events) from exc
        raise ConflictError(str(exc)) from exc

"""Deliver each new outbox event to every subscribed target, audit every attempt.

Driven by the events table's stream (INSERT only). A target that already took an
event is never sent it again (its status is on the event item), so stream
redelivery after a crash re-sends only what did not land; receivers dedupe by the
event id, which is also the Standard Webhooks ``webhook-id``. After
``max_attempts`` a target is dead-lettered: the event stays listed with status
``dead`` and the reason, and an audit entry says so.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.dispatch.subscribers import AnyTarget, Subscribers
from chalicelib.dispatch.targets import SENDERS
from chalicelib.errors import ConflictError, DeliveryFailed
from chalicelib.runtime import observability
from chalicelib.runtime.settings import Settings
from chalicelib.store import keys, queries
from chalicelib.store.audit import AuditEntry
from chalicelib.store.dynamo_store import DynamoStore, outbox_inserts, outbox_snapshot
from chalicelib.store.port import ChainAppend, DeliveryState, Plan

log = logging.getLogger("salesbridge.dispatch")
TRIES_PER_INVOCATION = 3


@dataclass
class Attempt:
    target: str
    ok: bool
    detail: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Dispatcher:
    subscribers: Subscribers
    settings: Settings
    secret: Callable[[Any], str]
    http: Any = None
    sleep: Callable[[float], None] = field(default=time.sleep)

    def handle_stream(self, raw_event: dict[str, Any]) -> dict[str, Any]:
        """Returns the partial-batch response: records whose delivery must be retried."""
        failures = []
        for event_id, sequence_number in outbox_inserts(raw_event):
            try:
                if not self.deliver(event_id):
                    failures.append(sequence_number)
            except Exception:  # noqa: BLE001 - retried by the stream; logged for operators
                log.exception("dispatch of %s failed", event_id)
                failures.append(sequence_number)
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failures]}

    def deliver(self, event_id: str) -> bool:
        """Deliver one stored event; True when nothing is left to retry."""
        item = queries.event(self.settings, event_id)
        if item is None:
            return True
        event = json.loads(item["event"])
        states: dict[str, dict[str, Any]] = dict(item.get("targets") or {})
        if not states:
            observability.count("EventsFired", type=str(event.get("type")))  # first sight of the event
        attempts: list[Attempt] = []
        for target in self.subscribers.targets:
            if not target.wants(event["type"]) or states.get(target.name, {}).get("status") in ("delivered", "dead"):
                continue
            states[target.name] = self._try_target(target, event, states.get(target.name, {}), attempts)
        if attempts:
            self._record(item, states, attempts)
        return all(s.get("status") in ("delivered", "dead") for s in states.values())

    def _try_target(self, target: AnyTarget, event: dict[str, Any], state: dict[str, Any], attempts: list[Attempt]) -> dict[str, Any]:
        """Up to TRIES_PER_INVOCATION attempts with jittered exponential backoff (tenacity).

        Attempts count across invocations; at ``max_attempts``, or on an answer that
        retrying cannot fix, the target is dead-lettered.
        """
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

        done = int(state.get("attempts", 0))
        budget = min(TRIES_PER_INVOCATION, self.subscribers.max_attempts - done)
        sender = SENDERS[target.kind]
        retrying = Retrying(
            stop=stop_after_attempt(max(budget, 1)),
            wait=wait_random_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception(lambda exc: isinstance(exc, DeliveryFailed) and exc.retryable),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    done += 1
                    detail = self._send(sender, target, event, attempts)
        except DeliveryFailed as exc:
            if not exc.retryable or done >= self.subscribers.max_attempts:
                observability.count("DeliveriesDead", target=target.name)
                return {"status": "dead", "attempts": done, "last_error": str(exc)}
            return {"status": "retrying", "attempts": done, "last_error": str(exc)}
        attempts.append(Attempt(target.name, True, detail))
        return {"status": "delivered", "attempts": done, "delivered_at": datetime.now(UTC).isoformat()}

    def _send(self, sender: Callable[..., str], target: AnyTarget, event: dict[str, Any], attempts: list[Attempt]) -> str:
        """One attempt; every failure is recorded for the audit trail and raised as DeliveryFailed."""
        observability.count("DispatchAttempts", target=target.name)
        try:
            return sender(target, event, bus=self.settings.event_bus_name, secret=self.secret, http=self._client())
        except DeliveryFailed as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - e.g. a secret that cannot be read: an attempt that failed
            failure = DeliveryFailed(f"{type(exc).__name__}: {exc}")
        log.warning("delivery of %s to %s failed: %s", event["id"], target.name, failure)
        observability.count("DispatchFailures", target=target.name)
        attempts.append(Attempt(target.name, False, str(failure)))
        raise failure

    def _client(self) -> Any:
        if self.http is None:
            import httpx

            from chalicelib.runtime import tracing

            tracing.install()  # before the first HTTP client: its calls are traced
            self.http = httpx.Client()
        return self.http

    def _record(self, item: dict[str, Any], states: dict[str, dict[str, Any]], attempts: list[Attempt]) -> None:
        """Target states and one audit entry per attempt, committed together on the event's own chain."""
        event_id = str(item["pk"])
        store = DynamoStore(self.settings)
        for _ in range(5):
            entries = [
                AuditEntry(
                    action="delivered" if a.ok else "delivery_failed",
                    actor="dispatch",
                    correlation_id=str(json.loads(item["event"]).get("correlationid") or event_id),
                    details={"event_id": event_id, "target": a.target, "result": a.detail, "attempts": states[a.target]["attempts"]},
                    at=a.at,
                )
                for a in attempts
            ]
            entries += [
                AuditEntry(
                    action="dead_lettered",
                    actor="dispatch",
                    correlation_id=event_id,
                    details={"event_id": event_id, "target": name, "reason": s.get("last_error")},
                )
                for name, s in states.items()
                if s.get("status") == "dead" and (item.get("targets") or {}).get(name, {}).get("status") != "dead"
            ]
            attempts_made = sum(int(s.get("attempts", 0)) for s in states.values())
            plan = Plan(
                outbox_snapshot(item),
                audit=[ChainAppend(keys.event_chain(event_id), entries)],
                delivery=DeliveryState(event_id, states, _overall(states), attempts_made),
            )
            try:
                store.commit(plan)
                return
            except ConflictError:
                item = queries.event(self.settings, event_id) or item
        raise RuntimeError(f"could not record delivery of {event_id}")


def _overall(states: dict[str, dict[str, Any]]) -> str:
    statuses = {s.get("status") for s in states.values()}
    if not statuses or statuses == {"delivered"}:
        return "delivered"
    if "retrying" in statuses:
        return "retrying"
    return "dead"

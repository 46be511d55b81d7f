"""Deliver each new outbox event to every subscribed target, audit every attempt.

Driven by the events table's stream (INSERT only). A target that already took an
event is never sent it again (its status is on the event item), so stream
redelivery after a crash re-sends only what did not land; receivers dedupe by the
event id, which is also the Standard Webhooks ``webhook-id``. After
``max_attempts`` a target is dead-lettered: the event stays listed with status
``dead`` and the reason, and an audit entry says so.

The actions of the rules files (chalicelib/rules/actions.py) are targets too, named
``action:<name>``: the request is rendered from the event and its subject's golden record and
sent through the connector's API client (chalicelib/dispatch/actions.py), one attempt at a
time, backing off as the vendor's Retry-After asks. A dead action can be re-driven by name.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from chalicelib.dispatch.actions import ActionTarget, api_client, send_action, send_robot
from chalicelib.dispatch.subscribers import AnyTarget, Subscribers
from chalicelib.dispatch.targets import SENDERS
from chalicelib.domain.state import golden_key
from chalicelib.errors import ConflictError, DeliveryFailed
from chalicelib.rules.actions import Action, subject_document, subject_of
from chalicelib.runtime import observability
from chalicelib.runtime.settings import Settings
from chalicelib.store import keys, queries
from chalicelib.store.audit import AuditEntry
from chalicelib.store.dynamo_store import DynamoStore, outbox_inserts, outbox_snapshot
from chalicelib.store.port import ChainAppend, DeliveryState, Plan

log = logging.getLogger("salesbridge.dispatch")
TRIES_PER_INVOCATION = 3
LONGEST_WAIT = 30.0  # a longer Retry-After is left to the next invocation (the stream's retry, or a re-drive)


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
    actions: tuple[Action, ...] = ()
    connectors: dict[str, Any] = field(default_factory=dict)  # name -> Connector (its api: section writes back)
    clients: dict[str, Any] = field(default_factory=dict)  # connector name -> API client (per container)

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

    def deliver(self, event_id: str, again: frozenset[str] = frozenset()) -> bool:
        """Deliver one stored event; True when nothing is left to retry. ``again``: dead targets to re-drive."""
        item = queries.event(self.settings, event_id)
        if item is None:
            return True
        event = json.loads(item["event"])
        states: dict[str, dict[str, Any]] = dict(item.get("targets") or {})
        if not states:
            observability.count("EventsFired", type=str(event.get("type")))  # first sight of the event
        for name in again:
            if states.get(name, {}).get("status") == "dead":
                previous = states[name]
                states[name] = {"status": "retrying", "attempts": 0, "redriven_after": int(previous.get("attempts", 0))}
        attempts: list[Attempt] = []
        for target in self.subscribers.targets:
            if not target.wants(event["type"]) or states.get(target.name, {}).get("status") in ("delivered", "dead"):
                continue
            sender = SENDERS[target.kind]
            send = self._sender(target, sender, event)
            states[target.name] = self._try_target(target.name, send, event, states.get(target.name, {}), attempts)
        for action in self.actions:
            act = ActionTarget(action)
            if not act.wants(event["type"]) or states.get(act.name, {}).get("status") in ("delivered", "dead"):
                continue
            states[act.name] = self._try_target(act.name, partial(self._act, action, event), event, states.get(act.name, {}), attempts)
        if attempts:
            self._record(item, states, attempts)
        return all(s.get("status") in ("delivered", "dead") for s in states.values())

    def _sender(self, target: AnyTarget, sender: Callable[..., str], event: dict[str, Any]) -> Callable[[], str]:
        return lambda: sender(target, event, bus=self.settings.event_bus_name, secret=self.secret, http=self._client())

    def _act(self, action: Action, event: dict[str, Any]) -> str:
        """One attempt of one action: render the request for the event's subject as stored now, send it."""
        subject = subject_of(event)
        golden = None
        if subject is not None:
            key = golden_key(*subject)
            golden = DynamoStore(self.settings).read([key]).states.get(key)
        document = subject_document(golden, *subject) if subject is not None else {}
        connector = self.connectors.get(action.connector or "")
        version = connector.api.api.api_version if connector is not None and connector.api is not None else None
        request = action.render(event, document, version)
        if action.connector is None:
            return send_robot(request, action, self.secret, self._client())
        if connector is None or connector.api is None:
            raise DeliveryFailed(f"action {action.name}: connector {action.connector!r} has no api: section", retryable=False)
        client = self.clients.get(connector.name)
        if client is None:
            client = self.clients[connector.name] = api_client(connector.api)
        return send_action(request, client)

    def _try_target(
        self, name: str, send: Callable[[], str], event: dict[str, Any], state: dict[str, Any], attempts: list[Attempt]
    ) -> dict[str, Any]:
        """Up to TRIES_PER_INVOCATION attempts with jittered exponential backoff (tenacity).

        Attempts count across invocations; at ``max_attempts``, or on an answer that
        retrying cannot fix, the target is dead-lettered.
        """
        from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

        done = int(state.get("attempts", 0))
        budget = min(TRIES_PER_INVOCATION, self.subscribers.max_attempts - done)
        backoff = wait_random_exponential(multiplier=0.2, max=2)

        def wait(retry_state: RetryCallState) -> float:
            failure = retry_state.outcome.exception() if retry_state.outcome else None
            asked = getattr(failure, "retry_after", None)
            return float(asked) if asked is not None else float(backoff(retry_state))

        retrying = Retrying(
            stop=stop_after_attempt(max(budget, 1)),
            wait=wait,
            retry=retry_if_exception(
                lambda exc: isinstance(exc, DeliveryFailed) and exc.retryable and (exc.retry_after or 0) <= LONGEST_WAIT
            ),
            sleep=self.sleep,
            reraise=True,
        )
        extra = {k: state[k] for k in ("redriven_after",) if k in state}
        try:
            for attempt in retrying:
                with attempt:
                    done += 1
                    detail = self._send(name, send, event, attempts)
        except DeliveryFailed as exc:
            if not exc.retryable or done >= self.subscribers.max_attempts:
                observability.count("DeliveriesDead", target=name)
                return {"status": "dead", "attempts": done, "last_error": str(exc), **extra}
            return {"status": "retrying", "attempts": done, "last_error": str(exc), **extra}
        attempts.append(Attempt(name, True, detail))
        return {"status": "delivered", "attempts": done, "delivered_at": datetime.now(UTC).isoformat(), **extra}

    def _send(self, name: str, send: Callable[[], str], event: dict[str, Any], attempts: list[Attempt]) -> str:
        """One attempt; every failure is recorded for the audit trail and raised as DeliveryFailed."""
        observability.count("DispatchAttempts", target=name)
        try:
            return send()
        except DeliveryFailed as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - e.g. a secret that cannot be read: an attempt that failed
            failure = DeliveryFailed(f"{type(exc).__name__}: {exc}")
        log.warning("delivery of %s to %s failed: %s", event["id"], name, failure)
        observability.count("DispatchFailures", target=name)
        attempts.append(Attempt(name, False, str(failure)))
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

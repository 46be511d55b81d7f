"""Re-driving a dead action: the operator fixed the cause (a field, a permission) and sends it again."""

from __future__ import annotations

from typing import Any

from chalicelib.api.errors import bad_request, not_found
from chalicelib.api.requests import ActionRedriveRequest
from chalicelib.configuration import Configuration
from chalicelib.runtime.settings import Settings
from chalicelib.store import queries


def redrive_action(dispatcher: Any, config: Configuration, settings: Settings, body: ActionRedriveRequest) -> dict[str, Any]:
    """One more round of attempts for a dead ``action:<name>`` of one event; its state after it."""
    event_id, name = body.event, body.action
    action = next((a for a in config.rules.actions if a.name == name), None)
    if action is None:
        raise not_found(f"no action named {name!r}; declared: {', '.join(a.name for a in config.rules.actions) or 'none'}")
    item = queries.event(settings, event_id)
    if item is None:
        raise not_found(f"no event {event_id!r}")
    state = (item.get("targets") or {}).get(action.target_name)
    if state is None:
        raise bad_request(f"action {name!r} was never attempted for event {event_id!r}", code="not_attempted")
    if state.get("status") != "dead":
        raise bad_request(f"action {name!r} of event {event_id!r} is {state.get('status')}, not dead", code="not_dead")
    dispatcher.deliver(event_id, again=frozenset({action.target_name}))
    after = queries.event(settings, event_id) or {}
    return {"event": event_id, "action": name, "delivery": (after.get("targets") or {}).get(action.target_name)}

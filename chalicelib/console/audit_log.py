"""Console actions in the audit trail, each with the operator's (or customer's) identity.

Replays and consent changes are audited by the functions the console calls, like every API
call; this module records what only the console does: logins, logouts, customer links issued
and views of unmasked personal data. Each is a one-entry chain (``console#<id>``, like a door
refusal); ``correlation_id`` groups a session's actions, or a customer's consent history.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.runtime.settings import Settings


def record(settings: Settings, action: str, actor: str, correlation_id: str, details: dict[str, Any]) -> None:
    """Write one entry; raises when it cannot be written, so the action does not happen unaudited."""
    from chalicelib.store import keys
    from chalicelib.store.audit import AuditEntry
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.port import ChainAppend, Plan, Snapshot

    entry = AuditEntry(action=action, actor=actor, correlation_id=correlation_id, details=details)
    chain = ChainAppend(keys.console_chain(uuid.uuid4().hex), [entry], headless=True)
    DynamoStore(settings).commit(Plan(Snapshot(), audit=[chain]))


def record_once(settings: Settings, name: str, action: str, actor: str, correlation_id: str, details: dict[str, Any]) -> None:
    """Write the one entry of the chain ``console#<name>``; raises ConflictError when it is written already."""
    from chalicelib.store import keys
    from chalicelib.store.audit import AuditEntry
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.port import ChainAppend, Plan, Snapshot

    entry = AuditEntry(action=action, actor=actor, correlation_id=correlation_id, details=details)
    DynamoStore(settings).commit(Plan(Snapshot(), audit=[ChainAppend(keys.console_chain(name), [entry], headless=True)]))


def session_correlation(sid: str) -> str:
    return f"console-session#{sid}"

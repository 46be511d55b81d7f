"""The state a record's evaluation reads and writes, named by what it is.

Evaluation (golden merge, consent, triggers) speaks of state by ``StateKey``: a kind
and the parts that identify one item of that kind. Where and how an item is stored
is the storage adapter's business (``chalicelib.store.keys`` maps each kind to its
DynamoDB key), so the domain never sees a table, a key prefix or a version number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Item = dict[str, Any]
StateKind = Literal["golden", "orders", "rebate_basis", "consent", "xref", "match", "rules", "window"]


@dataclass(frozen=True, order=True)
class StateKey:
    kind: StateKind
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind}:{'/'.join(self.parts)}"


States = dict[StateKey, "Item | None"]


def golden_key(entity: str, entity_id: str) -> StateKey:
    """The golden record of one canonical entity (products are keyed by SKU)."""
    return StateKey("golden", (entity, entity_id))


def orders_key(customer_id: str) -> StateKey:
    """A customer's recent order history, read by the order-anomaly rules."""
    return StateKey("orders", (customer_id,))


def rebate_basis_key(distributor_id: str, period: str, policy: str) -> StateKey:
    """One rebate policy's basis, settlement and last report for a distributor and month."""
    return StateKey("rebate_basis", (distributor_id, period, policy))


def consent_key(customer_id: str) -> StateKey:
    """A customer's consent registry entry."""
    return StateKey("consent", (customer_id,))


def rules_key(entity: str, entity_id: str) -> StateKey:
    """What the rules remember about one entity: its deadlines, stage-gate evidence, write-back echoes."""
    return StateKey("rules", (entity, entity_id))


def window_key(rule: str, key: str) -> StateKey:
    """One window rule's recent occurrences for one key (a customer, a lead, ...)."""
    return StateKey("window", (rule, key))


def xref_key(system: str, entity: str, source_id: str) -> StateKey:
    """Which canonical entity a source record belongs to (written when it is first seen, or merged)."""
    return StateKey("xref", (system, entity, source_id))


def match_key(entity: str, key: str) -> StateKey:
    """Which canonical entity holds a match key (``tax_id:91310…``): the key index, read without a scan."""
    return StateKey("match", (entity, key))

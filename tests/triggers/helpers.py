"""Builders shared by the trigger tests: configuration from YAML text, records, a tiny state store."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from chalicelib.config.yaml_lines import load_yaml_file, load_yaml_text
from chalicelib.domain.canonical import CanonicalRecord, SourceRef
from chalicelib.domain.state import StateKey
from chalicelib.pipeline.evaluate import Rules, evaluate, state_keys
from chalicelib.store.memory_store import MemoryStore
from chalicelib.store.port import Plan
from chalicelib.triggers.config import TriggerConfig, load_trigger_config
from chalicelib.triggers.outcome import Outcome

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

GRADE_SCALE = """
kind: grade_scale
levels: [D, C, B, A, S]
"""


def load(triggers: str = "kind: triggers\n", *policies: str, scale: str = GRADE_SCALE) -> TriggerConfig:
    docs = [
        ("mappings/grade_scale.yaml", load_yaml_text(textwrap.dedent(scale), "mappings/grade_scale.yaml")),
        ("mappings/triggers.yaml", load_yaml_text(textwrap.dedent(triggers), "mappings/triggers.yaml")),
    ]
    for index, text in enumerate(policies):
        name = f"mappings/rebate_policies/p{index}.yaml"
        docs.append((name, load_yaml_text(textwrap.dedent(text), name)))
    return load_trigger_config(docs)


def shipped_docs() -> list[tuple[str, Any]]:
    files = [ROOT / "mappings/triggers.yaml", *sorted((ROOT / "mappings/rebate_policies").glob("*.yaml"))]
    docs = [(str(f.relative_to(ROOT)), load_yaml_file(f, str(f.relative_to(ROOT)))) for f in files]
    scale = ROOT / "mappings/grade_scale.yaml"
    if scale.exists():
        docs.append(("mappings/grade_scale.yaml", load_yaml_file(scale, "mappings/grade_scale.yaml")))
    else:
        docs.append(("mappings/grade_scale.yaml", load_yaml_text(GRADE_SCALE, "mappings/grade_scale.yaml")))
    return docs


def rec(
    entity: str, entity_id: str, fields: dict[str, Any], *, system: str = "erp", at: datetime | int = 0, source_id: str | None = None
) -> CanonicalRecord:
    when = at if isinstance(at, datetime) else T0 + timedelta(minutes=at)
    return CanonicalRecord(
        entity=entity,
        source=SourceRef(system=system, entity=entity, id=source_id or entity_id),
        source_time=when,
        fields=fields,
        mapping=f"{system}-{entity}",
        mapping_version="v1",
    )


def line(sku: str, qty: int | str, price: str, discount: str = "0") -> dict[str, Any]:
    return {"sku": sku, "quantity": Decimal(str(qty)), "unit_price": Decimal(price), "discount": Decimal(discount)}


class Store:
    """The evaluate step over the in-memory store: read → evaluate (with its second read) → commit."""

    def __init__(self, config: TriggerConfig):
        self.config = config
        self.rules = Rules(config)
        self.memory = MemoryStore()

    def send(self, record: CanonicalRecord, entity_id: str | None = None) -> Outcome:
        entity_id = entity_id or record.source.id
        snapshot = self.memory.read(state_keys(record, entity_id, self.rules))
        read_more = partial(self.memory.read_more, snapshot)
        evaluation = evaluate(record, entity_id, dict(snapshot.states), self.rules, read_more=read_more, correlation_id="corr-1")
        self.memory.commit(Plan(snapshot, puts=dict(evaluation.outcome.puts)))
        return evaluation.outcome

    @property
    def items(self) -> dict[StateKey, dict[str, Any]]:
        """What the store holds."""
        return {key: stored.item for key, stored in self.memory.states.items()}

    def events(self, outcome: Outcome, event_type: str | None = None) -> list[dict[str, Any]]:
        return [e.to_json_dict() for e in outcome.events if event_type is None or e.type == event_type]

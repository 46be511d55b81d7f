"""HubSpot deals and engagements under the shipped rules: the stage gate sees HubSpot's meetings.

The shipped mappings (mappings/hubspot_deal.yaml, hubspot_meetings.yaml, hubspot_calls.yaml) and
rules (mappings/rules/sales.yaml) through the real processor on the in-memory store: deal events as
HubSpot's webhooks send them (one property each), engagements as the CRM objects API returns them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.inbound import InboundRecord

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
DEAL = 98765
_KEYS = itertools.count(1)


class HubSpot:
    """Records arrive at hours after T0, through the processor, with the clock following."""

    def __init__(self) -> None:
        from chalicelib.configuration import load_configuration
        from chalicelib.pipeline.processor import Processor, processing_config
        from chalicelib.store.memory_store import MemoryStore

        self.now = T0
        self.store = MemoryStore()
        self.processor = Processor(processing_config(load_configuration(ROOT)), self.store, clock=lambda: self.now)

    def _process(self, obj: str, payload: dict[str, Any], hours: float) -> None:
        self.now = T0 + timedelta(hours=hours)
        inbound = InboundRecord(connector="hubspot", object=obj, payload=payload, dedupe_key=f"hs:{next(_KEYS)}", received_at=self.now)
        outcome = self.processor.process(inbound)
        assert outcome.status == "applied", outcome

    def deal(self, hours: float, prop: str, value: str) -> None:
        event = {"eventId": next(_KEYS), "subscriptionType": "deal.propertyChange", "objectId": DEAL, "propertyName": prop,
                 "propertyValue": value, "occurredAt": int((T0 + timedelta(hours=hours)).timestamp() * 1000)}  # fmt: skip
        self._process("deal", event, hours)

    def meeting(self, hours: float, outcome: str = "COMPLETED") -> None:
        at = (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        meeting = {"id": "71203", "updatedAt": at, "archived": False,
                   "properties": {"hs_timestamp": at, "hs_meeting_title": "Needs confirmation", "hs_meeting_outcome": outcome,
                                  "hs_lastmodifieddate": at},
                   "associations": {"deals": {"results": [{"id": str(DEAL), "type": "meeting_event_to_deal"}]}}}  # fmt: skip
        self._process("meetings", meeting, hours)

    def gate_events(self) -> list[dict[str, Any]]:
        return [e.data for e in self.store.outbox.values() if e.type == "opportunity.stage_gate_skipped"]


@pytest.fixture()
def hubspot() -> HubSpot:
    return HubSpot()


def _qualified(hubspot: HubSpot) -> None:
    hubspot.deal(0, "dealstage", "qualifiedtobuy")
    hubspot.deal(0.1, "amount", "50000")
    hubspot.deal(0.2, "hubspot_owner_id", "31415926")


def test_a_deal_moved_to_contract_sent_without_the_meeting_names_it_missing(hubspot: HubSpot) -> None:
    _qualified(hubspot)
    hubspot.deal(2, "dealstage", "contractsent")
    [data] = hubspot.gate_events()
    assert data["stage"] == "negotiation" and data["previous_stage"] == "qualification"
    assert data["missing"] == [{"kind": "activity", "name": "needs_confirmation_meeting"}, {"kind": "activity", "name": "quote"}]


def test_a_completed_hubspot_meeting_on_the_deal_counts_for_the_gate(hubspot: HubSpot) -> None:
    _qualified(hubspot)
    hubspot.meeting(1)
    hubspot.deal(2, "dealstage", "contractsent")
    [data] = hubspot.gate_events()
    assert data["missing"] == [{"kind": "activity", "name": "quote"}]  # HubSpot quotes are not engagements


def test_a_meeting_that_did_not_happen_does_not_count(hubspot: HubSpot) -> None:
    _qualified(hubspot)
    hubspot.meeting(1, outcome="NO_SHOW")
    hubspot.deal(2, "dealstage", "contractsent")
    [data] = hubspot.gate_events()
    assert {"kind": "activity", "name": "needs_confirmation_meeting"} in data["missing"]


def test_a_deal_created_without_an_amount_is_missing_it(hubspot: HubSpot) -> None:
    hubspot.deal(0, "dealstage", "contractsent")  # created in the stage, nothing else known yet
    [data] = hubspot.gate_events()
    assert {"kind": "field", "name": "amount"} in data["missing"] and {"kind": "field", "name": "owner"} in data["missing"]

"""Where pulled records go: the bulk lane, except a record no queue message can carry, which is quarantined.

The door refuses such a record with a 413 and the vendor sees it. A sync cannot refuse a page:
raising would leave the watermark before that page, so every later run would stop at the same
record and the stream would never move again. The record is quarantined instead, its raw input
kept (in S3 when large) for a replay once the mapping or the source is changed, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.domain.inbound import InboundRecord
from chalicelib.runtime import queue
from chalicelib.store.port import Quarantined

if TYPE_CHECKING:
    from chalicelib.configuration import Configuration
    from chalicelib.runtime.settings import Settings

Quarantine = Callable[[InboundRecord, Quarantined], object]


def bulk_lane_sink(queue_url: str, quarantine: Quarantine) -> Callable[[list[InboundRecord]], None]:
    """A sync sink: records that fit go to the queue at ``queue_url``, the others to ``quarantine``."""

    def sink(records: list[InboundRecord]) -> None:
        fitting = []
        for record in records:
            size = queue.message_bytes(record)
            if size <= queue.MAX_MESSAGE_BYTES:
                fitting.append(record)
                continue
            message = (
                f"a record of {size} bytes once queued; the queue carries at most {queue.MAX_MESSAGE_BYTES} per record: "
                "select fewer fields in the stream or filter the record out in the mapping, then replay"
            )
            quarantine(record, Quarantined("record_too_large", message))
        queue.send(fitting, queue_url)

    return sink


def processor_quarantine(config: Configuration, settings: Settings) -> Quarantine:
    """Quarantine through the stage's processor (imported only when a record is too large, which is rare)."""

    def quarantine(record: InboundRecord, why: Quarantined) -> object:
        from chalicelib.pipeline.processor import Processor

        return Processor.of(config, settings).quarantine(record, why)

    return quarantine

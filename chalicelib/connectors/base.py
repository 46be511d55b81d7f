"""What every connector kind provides to the sync loop: pages of records and each record's position.

A *position* is (modified time, id): sources return records ordered by it, the
watermark stores the highest one delivered, and the id breaks ties between
records changed in the same instant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from chalicelib.connectors.models import dig
from chalicelib.errors import MalformedPageError


def id_order(value: str) -> tuple[int, int | str]:
    """Numeric ids sort as numbers (Odoo, Shopify), others as strings (Salesforce)."""
    return (0, int(value)) if value.isdigit() else (1, value)


@dataclass(frozen=True)
class Position:
    modified: datetime
    id: str

    def __post_init__(self) -> None:
        if self.modified.tzinfo is None:
            raise ValueError("a position's time must be timezone-aware")

    @property
    def key(self) -> tuple[datetime, tuple[int, int | str]]:
        return (self.modified, id_order(self.id))

    def __lt__(self, other: Position) -> bool:
        return self.key < other.key

    def __le__(self, other: Position) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Position) -> bool:
        return self.key > other.key

    def __ge__(self, other: Position) -> bool:
        return self.key >= other.key

    def sortable(self) -> str:
        """A string whose order is the position's order (for DynamoDB conditions)."""
        ts = self.modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rank, value = id_order(self.id)
        return f"{ts}|{rank}{value!s:0>20}" if rank == 0 else f"{ts}|{rank}{value}"


def parse_time(value: Any, *, field: str, naive_is_utc: bool = True) -> datetime:
    """ISO 8601 (incl. Salesforce ``+0000``, ``Z``, Odoo ``YYYY-MM-DD HH:MM:SS`` in UTC) or epoch s/ms."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        seconds = float(value) / (1000.0 if abs(Decimal(value)) > 100_000_000_000 else 1.0)  # epoch s or ms
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return parse_time(int(text), field=field)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise MalformedPageError(f"{field} {value!r} is not a timestamp") from None
        if moment.tzinfo is None:
            if not naive_is_utc:
                raise MalformedPageError(f"{field} {value!r} has no time zone")
            moment = moment.replace(tzinfo=UTC)
        return moment
    raise MalformedPageError(f"{field} is missing or not a timestamp (got {value!r})")


def _naive(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.strip()).tzinfo is None
    except ValueError:
        return False


@dataclass(frozen=True)
class SourcePage:
    records: list[dict[str, Any]]
    url: str
    total: int | None = None  # the vendor's count of matching records, when it gives one


class Source(ABC):
    """One stream of one connector: yields pages of records at or after a position.

    ``pages(after, overlap)``: with ``overlap`` zero and an ``after`` position,
    a source that can express the tie-break asks for records strictly after it;
    otherwise it asks for records modified at or after ``after.modified - overlap``
    (the runner and the dedupe keys make the re-read harmless).
    """

    default_id_field = "id"
    default_cursor_field = "updated_at"

    def __init__(self, connector: Any, stream: Any, client: Any):
        self.connector, self.stream, self.client = connector, stream, client
        self.id_field: str = stream.id_field or self.default_id_field
        self.cursor_field: str = stream.cursor_field or self.default_cursor_field

    @abstractmethod
    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        """Pages in ascending (modified, id) order."""

    def position_of(self, record: Any) -> Position:
        """Where ``record`` sits in the order; a record without id or timestamp is a malformed page."""
        if not isinstance(record, dict):
            raise MalformedPageError(f"record is {type(record).__name__}, not an object")
        raw_id = dig(record, self.id_field)
        if raw_id is None or raw_id == "" or isinstance(raw_id, (dict, list, bool)):
            raise MalformedPageError(f"record has no {self.id_field!r}")
        raw_time = dig(record, self.cursor_field)
        moment = parse_time(raw_time, field=self.cursor_field)
        zone = getattr(getattr(self.connector, "api", None), "timezone", None)
        if zone and isinstance(raw_time, str) and _naive(raw_time):
            from zoneinfo import ZoneInfo

            moment = moment.replace(tzinfo=ZoneInfo(zone))  # naive times are the API's local time
        return Position(moment, str(raw_id))

    def lower_bound(self, after: Position | None, overlap: timedelta) -> datetime | None:
        """The inclusive lower time bound for a non-strict query."""
        if after is None:
            start: datetime | None = self.stream.start_date
            return start
        return after.modified - overlap

    @staticmethod
    def strict(after: Position | None, overlap: timedelta) -> TypeGuard[Position]:
        return after is not None and overlap <= timedelta(0) and after.id != ""

    def records_at(self, body: Any, path: str, url: str) -> list[dict[str, Any]]:
        records = dig(body, path) if path else body
        if not isinstance(records, list):
            where = f"at {path!r}" if path else "at the top level"
            raise MalformedPageError(f"expected a list of records {where}", url=url, snippet=str(body)[:120])
        return records

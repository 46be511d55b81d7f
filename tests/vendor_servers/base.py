"""The shared machinery: a threaded HTTP/1.1 server on 127.0.0.1:0, a mutable dataset, fault injection."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null", parse_float=Decimal)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, default=_default, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})


@dataclass
class Fault:
    """A scripted answer: on data request number ``at`` (1-based; None = the next ones), ``times`` times."""

    response: Response
    at: int | None = None
    times: int = 1


class Dataset:
    """Records keyed by id with a modified time; ``touch`` edits one "now" (strictly later than any other)."""

    def __init__(self, resolution: timedelta = timedelta(milliseconds=1)):
        self.records: dict[Any, dict[str, Any]] = {}
        self.resolution = resolution
        self.lock = threading.Lock()

    def add(self, record_id: Any, modified: datetime, **fields: Any) -> None:
        with self.lock:
            self.records[record_id] = {"id": record_id, "modified": modified, **fields}

    def newest(self) -> datetime:
        return max((r["modified"] for r in self.records.values()), default=datetime(2020, 1, 1, tzinfo=UTC))

    def touch(self, record_id: Any, **changes: Any) -> datetime:
        with self.lock:
            now = datetime.now(UTC)
            if self.resolution >= timedelta(seconds=1):
                now = now.replace(microsecond=0)
            else:
                now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            moment = max(now, self.newest() + self.resolution)
            self.records[record_id].update(changes, modified=moment)
            return moment

    def sorted(self, key: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        with self.lock:
            return sorted((dict(r) for r in self.records.values()), key=key)


def fill(
    dataset: Dataset,
    count: int,
    make_id: Callable[[int], Any],
    *,
    start: datetime | None = None,
    step: timedelta = timedelta(seconds=1),
    same_time_groups: int = 1,
) -> None:
    """``count`` records, ``same_time_groups`` of them sharing each timestamp, with a money field."""
    start = start or datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    for i in range(count):
        dataset.add(make_id(i), start + step * (i // same_time_groups), name=f"Record {i}", amount=Decimal(i) + Decimal("0.10"))


class LoopbackServer:
    """Subclasses implement ``handle(request) -> Response`` and decide which requests are data pages."""

    def __init__(self) -> None:
        self.dataset = Dataset()
        self.faults: list[Fault] = []
        self.data_requests = 0
        self.log: list[Request] = []
        self.on_data_request: Callable[[int], None] | None = None  # e.g. edit a record mid-sync
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                response = server.dispatch(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- fault injection
    def fail(self, response: Response, *, at: int | None = None, times: int = 1) -> None:
        """Answer data request ``at`` (or the next ones) with ``response``, ``times`` times."""
        self.faults.append(Fault(response, at, times))

    def is_data_request(self, request: Request) -> bool:
        return True

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.log.append(request)
        if self.is_data_request(request):
            with self._lock:
                self.data_requests += 1
                number = self.data_requests
                fault = next((f for f in self.faults if f.times > 0 and (f.at is None or f.at == number)), None)
                if fault is not None:
                    fault.times -= 1
                    if fault.at is not None:
                        fault.at += 1  # a retry of the same page is the next request
            if self.on_data_request is not None:
                self.on_data_request(number)
            if fault is not None:
                return fault.response
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake must be visible, not a hung client
            return json_response({"message": f"fake server error: {exc!r}"}, 500)

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

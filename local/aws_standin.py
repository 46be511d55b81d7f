"""The embedded AWS stand-in: moto's server, made to keep DynamoDB's promises salesbridge relies on.

One module for both users: ``make run`` starts it as a process (``python -m local.aws_standin
--port 4599``) and the tests and benchmarks start it in a thread (``AwsStandIn``). Two changes
to moto, both in force wherever it runs:

- DynamoDB calls are applied one at a time (``SerialisedDynamoDB``). moto checks a write's
  condition and then writes, without a lock, so two concurrent conditional writes can both
  succeed, and concurrent ``TransactWriteItems`` can fail with a 500. Real DynamoDB applies
  each write atomically: exactly one of two conflicting writers wins. Other services (SQS long
  polls among them) are not serialised.
- Transactions keep a rollback journal of the items they touch instead of copying every table
  they touch (``JournaledTransactions``), so a transaction costs the same at 100,000 stored
  items as at 1,000.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_XRAY_SDK_ENABLED": "false",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerialisedDynamoDB:
    """WSGI middleware: one DynamoDB (and DynamoDB Streams) request at a time, answered in full inside the lock."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def standin_app() -> WsgiApp:
    """moto's WSGI application with both changes applied."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from local.moto_attribute_values import PlainAttributeValues
    from local.moto_item_size import LinearItemSize
    from local.moto_request_lookups import CachedRequestLookups
    from local.moto_sqs_queues import LeanQueueScans
    from local.moto_transactions import JournaledTransactions

    JournaledTransactions.install()
    LinearItemSize.install()
    PlainAttributeValues.install()
    LeanQueueScans.install()
    CachedRequestLookups.install()
    return SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))


def make_server(host: str, port: int) -> Any:
    """A threaded werkzeug server for the stand-in (port 0: a free one)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return werkzeug_server(host, port, standin_app(), threaded=True, request_handler=MotoRequestHandler)


class AwsStandIn:
    """The stand-in in a thread of this process, plus the resources from infra/resources.py."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-standin", daemon=True)
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        self.endpoint = f"http://{bound_host}:{bound_port}"
        self.env: dict[str, str] = {}

    def activate(self) -> dict[str, str]:
        """Point this process's boto3 at the server and (re)create every resource."""
        import boto3

        from infra import resources
        from local.seed import seed_parameters

        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        session = boto3.session.Session()
        self.env = resources.create_all(session)
        seed_parameters(session)
        os.environ.update(self.env)
        return dict(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=self.endpoint, **self.env)

    def reset(self) -> dict[str, str]:
        """Forget everything stored, then recreate the resources."""
        import httpx

        httpx.post(f"{self.endpoint}/moto-api/reset")
        return self.activate()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="salesbridge's AWS stand-in (moto's server with DynamoDB's atomicity).")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4599)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    server = make_server(args.host, args.port)
    # Everything is in memory and nothing needs flushing: leave at once (freeing 100,000 items takes seconds).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

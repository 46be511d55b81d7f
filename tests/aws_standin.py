"""The embedded AWS stand-in for tests: moto's server on a free loopback port."""

from __future__ import annotations

import logging
import os
import threading

import boto3
import httpx

from infra import resources
from local.run import FAKE_CREDENTIALS  # noqa: E402 - one definition for the stack and the tests


class _AtomicDynamoDB:
    """Serialise DynamoDB calls on the stand-in.

    moto checks a write's condition and then writes, without a lock, so two concurrent
    conditional writes can both succeed; real DynamoDB applies each one atomically. The
    concurrency tests rely on that guarantee, so the stand-in is given it. Other services
    (SQS long polls among them) are not serialised.
    """

    def __init__(self, app: object) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: object) -> object:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def _moto_server(ip_address: str, port: int) -> object:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = _AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=ip_address, port=port, verbose=False)


class AwsStandIn:
    """A moto server over HTTP plus the resources from infra/resources.py."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = _moto_server("127.0.0.1", 0)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.env: dict[str, str] = {}

    def activate(self) -> dict[str, str]:
        """Point this process's boto3 at the server and (re)create every resource."""
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        session = boto3.session.Session()
        self.env = resources.create_all(session)
        from local.seed import seed_parameters

        seed_parameters(session)
        os.environ.update(self.env)
        return dict(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=self.endpoint, **self.env)

    def reset(self) -> dict[str, str]:
        httpx.post(f"{self.endpoint}/moto-api/reset")
        return self.activate()

    def stop(self) -> None:
        self._server.stop()

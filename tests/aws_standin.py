"""The embedded AWS stand-in for tests: moto's server on a free loopback port."""
from __future__ import annotations

import logging
import os

import boto3
import httpx

from infra import resources

from local.run import FAKE_CREDENTIALS  # noqa: E402 - one definition for the stack and the tests


class AwsStandIn:
    """A moto server over HTTP plus the resources from infra/resources.py."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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

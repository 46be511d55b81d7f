from __future__ import annotations

import os

import pytest

os.environ.setdefault("AWS_XRAY_SDK_ENABLED", "false")


def pytest_configure(config):
    """Every AWS call a Lambda handler makes is checked against its function's IAM policy (tests/least_privilege.py)."""
    from tests import least_privilege

    least_privilege.install()


@pytest.fixture(autouse=True)
def least_privilege():
    """Fails the test when a handler made an AWS call its function's generated policy does not allow."""
    from tests.least_privilege import LEDGER

    LEDGER.take_denied()
    yield LEDGER
    denied = LEDGER.take_denied()
    if denied:
        lines = "\n".join(f"  {d.function}: {d.action} on {d.resource} ({d.operation})" for d in dict.fromkeys(denied))
        pytest.fail(f"AWS calls not allowed by the function's IAM policy (infra/permissions.py):\n{lines}", pytrace=False)


@pytest.fixture(scope="session")
def aws_server():
    """One moto server per test session (per xdist worker)."""
    from tests.aws_standin import AwsStandIn

    server = AwsStandIn()
    yield server
    server.stop()


@pytest.fixture()
def aws(aws_server, monkeypatch):
    """A clean AWS stand-in for one test: every table, queue and bus freshly created."""
    env = aws_server.reset()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from chalicelib.runtime import aws as aws_clients

    aws_clients.reset_clients()
    yield aws_server
    aws_clients.reset_clients()


@pytest.fixture()
def stack(aws, monkeypatch):
    """The app wired to a fresh AWS stand-in, with local secrets; yields Chalice's test client."""
    from chalice.test import Client

    from tests.stack import ADMIN_TOKEN, DEMO_SECRET

    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SALESBRIDGE_PII_KEY", "test-pii-key")
    monkeypatch.setenv("DEMO_CRM_WEBHOOK_SECRET", DEMO_SECRET)
    _reset_caches()
    import app as application

    with Client(application.app, stage_name="local") as client:
        yield client
    _reset_caches()


def _reset_caches() -> None:
    from chalicelib import configuration as loader
    from chalicelib.api import auth
    from chalicelib.runtime import settings
    from chalicelib.runtime.secrets import default_resolver

    settings.reset_settings()
    loader.reset()
    auth.reset_cache()
    default_resolver().clear()


@pytest.fixture()
def harness(aws, monkeypatch, tmp_path):
    """The app on a fresh AWS stand-in, configured with the shipped files plus the test-only ERP (tests/faults)."""
    from chalice.test import Client

    from tests.faults.harness import Harness, config_dir, reset_caches
    from tests.stack import ADMIN_TOKEN, DEMO_SECRET

    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SALESBRIDGE_PII_KEY", "test-pii-key")
    monkeypatch.setenv("DEMO_CRM_WEBHOOK_SECRET", DEMO_SECRET)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(config_dir(tmp_path)))
    reset_caches()
    import app as application

    with Client(application.app, stage_name="local") as client:
        yield Harness(client, aws).install(fresh=False)  # the aws fixture has just reset the stand-in
    reset_caches()

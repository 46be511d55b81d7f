"""SnapStart: a snapshotted init does the door's first-request work, and nothing that must differ per environment.

Each case is a fresh Python process importing app.py with the variables Lambda sets, as a cold
start (or a version publish) would; the door's request then goes to the AWS stand-in.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.runtime import snapstart
from tests.infra.test_lambda_events import deployed  # noqa: F401 - a fixture: the app as stage prod on the stand-in

ROOT = Path(__file__).resolve().parents[2]

# Records every connection opened while app.py is imported; then, as Lambda would after a restore,
# runs the registered hooks and answers one signed delivery through the Lambda handler.
PROBE = """
import json, sys
sys.path.insert(0, {root!r})
connections = []
sys.addaudithook(lambda event, args: connections.append(str(args[1])) if event == "socket.connect" else None)
import app
sdk_imported, hooks_imported = "boto3" in sys.modules, "snapshot_restore_py" in sys.modules
xray = sys.modules.get("aws_xray_sdk.core")
emitter_at_snapshot = id(xray.xray_recorder.emitter) if xray else None
from chalicelib.ingress import door
from chalicelib.runtime import aws
state = {{
    "primed_connectors": sorted(name for name, _ in door._verifiers),
    "verifiers": len(door._verifiers),
    "clients": sorted(aws._clients),
    "boto3": sdk_imported,
    "sqs_model": aws._session is not None and "sqs" in str(aws._session._session.get_component("data_loader")._cache),
    "connections": list(connections),
}}
import snapshot_restore_py
state["after_restore"] = [f.__module__ + "." + f.__name__ for f, _, _ in snapshot_restore_py.get_after_restore()] \\
    if hooks_imported else None
for hook, args, kwargs in snapshot_restore_py.get_after_restore():
    hook(*args, **kwargs)
state["traced_at_init"] = emitter_at_snapshot is not None
state["emitter_renewed"] = bool(xray) and id(xray.xray_recorder.emitter) != emitter_at_snapshot
if {deliver}:
    from tests.infra.test_lambda_events import LambdaContext, demo_body, demo_signature, http_api_v1_event
    body = demo_body()
    wire = json.loads(json.dumps(app.app(http_api_v1_event(body, demo_signature(body, "prod-demo-secret")), LambdaContext())))
    state["status"] = wire["statusCode"]
    state["clients_after"] = sorted(aws._clients)
print(json.dumps(state))
"""


def run_init(
    initialization: str, function: str, *, deliver: bool = False, config_dir: Path | None = None, daemon: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``daemon``: tracing on, segments sent to this address (as Lambda's X-Ray daemon would receive them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA", "_X_AMZN", "AWS_XRAY"))}
    env.update(AWS_LAMBDA_INITIALIZATION_TYPE=initialization, SALESBRIDGE_FUNCTION=function, AWS_XRAY_SDK_ENABLED="false")
    if daemon is not None:
        env.update(
            AWS_XRAY_SDK_ENABLED="true",
            AWS_LAMBDA_FUNCTION_NAME="salesbridge-prod-webhooks",
            LAMBDA_TASK_ROOT=str(ROOT),
            AWS_XRAY_DAEMON_ADDRESS=daemon,
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
    if config_dir is not None:
        env["SALESBRIDGE_CONFIG_DIR"] = str(config_dir)
    code = PROBE.format(root=str(ROOT), deliver=deliver)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def probe(initialization: str, function: str, *, deliver: bool = False, config_dir: Path | None = None, daemon: str | None = None) -> dict:
    result = run_init(initialization, function, deliver=deliver, config_dir=config_dir, daemon=daemon)
    assert result.returncode == 0, result.stderr[-3000:]
    state: dict = json.loads(result.stdout.strip().splitlines()[-1])
    return state


def as_built(root: Path) -> Path:
    """The shipped configuration files with the build's record that it checked them (infra/package.py)."""
    from chalicelib.config import parsed_cache

    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, root / folder)
    parsed_cache.write(root, checked=True)
    return root


@pytest.mark.usefixtures("deployed")
def test_a_snapshotted_door_init_primes_the_first_request_without_a_client_or_a_connection(tmp_path):
    state = probe("snap-start", snapstart.DOOR_FUNCTION, deliver=True, config_dir=as_built(tmp_path))
    assert "demo_crm" in state["primed_connectors"] and state["verifiers"] >= 1
    assert state["boto3"] and state["sqs_model"], "the SDK's models are read before the snapshot"
    assert state["clients"] == [], "no client (and so no credentials) may be in a snapshot"
    assert state["connections"] == [], "no connection may be open in a snapshot"
    assert state["after_restore"] == ["chalicelib.runtime.snapstart.after_restore"]
    assert not state["traced_at_init"], "tracing is off here"
    assert state["status"] == 202, "after the restore the door answers with its own clients"
    assert "sqs" in state["clients_after"] and "ssm" in state["clients_after"]


@pytest.mark.usefixtures("deployed")
def test_an_on_demand_init_is_unchanged():
    state = probe("on-demand", snapstart.DOOR_FUNCTION, deliver=True)
    assert state["primed_connectors"] == [] and state["verifiers"] == 0 and not state["boto3"]
    assert state["after_restore"] is None, "the runtime hooks' library is not even imported"
    assert state["status"] == 202


@pytest.mark.usefixtures("deployed")
def test_another_function_snapshotted_registers_the_hook_but_primes_no_door():
    state = probe("snap-start", "ProcessInbound")
    assert state["primed_connectors"] == [] and not state["boto3"]
    assert state["after_restore"] == ["chalicelib.runtime.snapstart.after_restore"]


@pytest.mark.usefixtures("deployed")
def test_without_the_builds_check_no_connector_is_primed_and_no_secret_fetched():
    """Unchecked files mean the whole configuration and its masking key (SSM): left to the first request, as on demand."""
    state = probe("snap-start", snapstart.DOOR_FUNCTION, deliver=True, config_dir=ROOT)
    assert state["primed_connectors"] == [] and state["sqs_model"]
    assert state["clients"] == [] and state["connections"] == []
    assert state["status"] == 202


@pytest.mark.usefixtures("deployed")
def test_with_tracing_the_snapshot_holds_x_rays_patches_and_each_restore_sends_through_a_socket_of_its_own(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(30)
        host, port = daemon.getsockname()
        state = probe("snap-start", snapstart.DOOR_FUNCTION, deliver=True, config_dir=as_built(tmp_path), daemon=f"{host}:{port}")
        segment = daemon.recv(65536).decode()
    assert state["traced_at_init"] and state["emitter_renewed"]
    assert state["clients"] == [] and state["connections"] == [], "installing X-Ray opened nothing"
    assert state["status"] == 202
    assert segment.startswith('{"format":"json"') and "5759e988-bd862e3fe1be46a994272793" in segment, "the delivery's calls are traced"


def test_restored_environments_draw_different_jitter():
    """Every restore starts from the same ``random`` state; without the reseed two environments would retry in step."""
    snapshot = random.getstate()
    draws_without = []
    for _ in range(2):
        random.setstate(snapshot)
        draws_without.append(random.random())
    assert draws_without[0] == draws_without[1]  # what the hook is for
    draws_with = []
    for _ in range(2):
        random.setstate(snapshot)
        snapstart.reseed()
        draws_with.append(random.random())
    assert draws_with[0] != draws_with[1]


@pytest.mark.parametrize("initialization", ["on-demand", "provisioned-concurrency", ""])
def test_prepare_does_nothing_outside_a_snapshotted_init(monkeypatch, initialization):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    assert snapstart.prepare({snapstart.DOOR_FUNCTION: pytest.fail}) is False

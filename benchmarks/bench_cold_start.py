"""Cold start of the deployment package, measured the way Lambda runs it.

Builds the real deployment package (``make package``: infra/package.py) and a bare Chalice
app with boto3 (a health route, a webhook route, one DynamoDB client) packaged the same way (``chalice package`` +
``finish_package``), extracts each into a read-only directory, and runs fresh processes of
``python -I -S -B`` with ``PYTHONDONTWRITEBYTECODE=1``: nothing is compiled to disk, and
only the package and the standard library are importable, as in ``/var/task``. Each
process has the Lambda environment (function name, task root, execution environment,
memory size, region, credentials, and the function's own variables), imports ``app.py``,
answers ``GET /health`` through the Lambda handler with an API Gateway proxy event and
``json.dumps`` the response as the runtime does. Tracing off, then on (the X-Ray SDK
patches botocore and httpx at import).

A third line is the door's own cold start: a signed webhook (``POST /webhooks/demo_crm``)
through the handler, which reads the connector's secret from SSM and queues the record on
SQS, both on a local stand-in; the bare app's webhook route makes the same two calls (one
GetParameter, one SendMessage) with boto3 and nothing else.

Two more lines are the door as deployed, with SnapStart, tracing off and on (the bare package has no
tracing: on, the line shows what X-Ray adds to the door's request): each process's init is a snapshotted one
(``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``, the runtime's hooks library on the path), its
after-restore hooks run, then the same webhook; the line compares the first request's own time
with the bare package's (whose init makes its DynamoDB client and nothing more), and shows the
init each snapshot holds. The restore happens in Lambda and is not measured.

Median wall time and peak RSS over BENCH_RUNS processes per package, the two packages taking
turns run by run so both see the same machine load; one line per measurement.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
GOAL, STRETCH, MEMORY_GOAL = 1.3, 1.15, 1.2

REQUEST = {
    "resource": "/health",
    "path": "/health",
    "httpMethod": "GET",
    "headers": {"Host": "example.execute-api.us-east-1.amazonaws.com"},
    "multiValueHeaders": {"Host": ["example.execute-api.us-east-1.amazonaws.com"]},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "resourcePath": "/health",
        "httpMethod": "GET",
        "stage": "api",
        "requestId": "bench",
        "identity": {"sourceIp": "127.0.0.1"},
    },
    "body": None,
    "isBase64Encoded": False,
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
started = time.perf_counter()
import app
if "snapshot_restore_py" in sys.modules:  # as Lambda does on a restore from the snapshot
    for hook, args, kwargs in sys.modules["snapshot_restore_py"].get_after_restore():
        hook(*args, **kwargs)
initialised = time.perf_counter()
class Context:
    function_name = "bench"; aws_request_id = "bench"; memory_limit_in_mb = 512
    def get_remaining_time_in_millis(self): return 30000
response = json.dumps(app.app(json.loads({event!r}), Context()))
assert json.loads(response)["statusCode"] == {status}, response
answered = time.perf_counter()
outside = sorted(name for name, m in sys.modules.items() if name.split(".")[0] in ("app", "chalice", "boto3", "botocore")
                 and not (getattr(m, "__file__", None) or {root!r}).startswith({root!r}))
assert not outside, outside
# This process's own peak (VmHWM, kB): ru_maxrss also keeps the peak from before exec, i.e. the forking benchmark's.
peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(peak[0] if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, initialised - started, answered - initialised)
"""

BARE_APP = """
import os, uuid

import boto3
from chalice import Chalice, Response

app = Chalice(app_name="bare")
client = boto3.client("dynamodb", region_name="us-east-1")


@app.route("/health")
def health():
    return {"status": "ok"}


@app.route("/webhooks/{connector}", methods=["POST"])
def webhook(connector):
    name = f"/salesbridge/{connector}/webhook-secret"
    boto3.client("ssm", region_name="us-east-1").get_parameter(Name=name, WithDecryption=True)
    body = app.current_request.raw_body.decode()
    queue = os.environ["INBOUND_QUEUE_URL"]
    boto3.client("sqs", region_name="us-east-1").send_message(
        QueueUrl=queue, MessageBody=body, MessageGroupId=connector, MessageDeduplicationId=uuid.uuid4().hex
    )
    return Response(status_code=202, body={"queued": True})
"""
DOOR_SECRET = "demo-secret"  # local/seed.py's value for demo_crm


def door_request() -> dict[str, object]:
    """A signed demo_crm delivery as the HTTP API (payload format 1.0) hands it to the function."""
    import hashlib
    import hmac

    body = json.dumps({"event_id": "evt-cold-start", "customer": {"id": "C-1", "tier": "Gold", "updated_at": "2026-11-01T08:00:00+08:00"}})
    signature = "sha256=" + hmac.new(DOOR_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {"Host": "example.execute-api.us-east-1.amazonaws.com", "Content-Type": "application/json", "X-Demo-Signature": signature}
    return {
        **REQUEST,
        "resource": "/webhooks/{connector}",
        "path": "/webhooks/demo_crm",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "pathParameters": {"connector": "demo_crm"},
        "requestContext": {**REQUEST["requestContext"], "resourcePath": "/webhooks/{connector}", "httpMethod": "POST"},  # type: ignore[dict-item]
        "body": body,
    }


def lambda_env(task_root: Path, tracing: bool) -> dict[str, str]:
    """The variables Lambda sets in a python3.XY function, and the function's own (from .chalice/config.json)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": "app.app",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "AWS_LAMBDA_FUNCTION_NAME": "salesbridge-prod-APIHandler",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/salesbridge-prod-APIHandler",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/25/[$LATEST]bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_XRAY_SDK_ENABLED": "true" if tracing else "false",
        "SALESBRIDGE_LOCAL": "1",  # the masking key from the environment, not SSM (see the docstring)
        "SALESBRIDGE_PII_KEY": "bench-key",
    }
    if tracing:
        env.update(
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            AWS_XRAY_DAEMON_ADDRESS="169.254.79.129:2000",
            _AWS_XRAY_DAEMON_ADDRESS="169.254.79.129",
            _AWS_XRAY_DAEMON_PORT="2000",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env.update(config.get("environment_variables", {}))
    env.update(config["stages"]["prod"].get("environment_variables", {}))
    env.update(SALESBRIDGE_STAGE="bench", PII_KEY_REF="env:SALESBRIDGE_PII_KEY")
    return env


def package_bare_app(workdir: Path) -> Path:
    """A bare Chalice + boto3 project, packaged as infra/package.py packages salesbridge."""
    from infra.package import ALWAYS_KEPT_SERVICES, finish_package

    project = workdir / "bare"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").write_text(BARE_APP)
    boto3_pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("boto3"))
    (project / "requirements.txt").write_text(boto3_pin + "\n")
    (project / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "app_name": "bare", "stages": {"prod": {}}}))
    out = workdir / "bare-out"
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", "prod", str(out)], cwd=project, check=True, capture_output=True)
    finish_package(out / "deployment.zip", frozenset({"dynamodb", "ssm", "sqs"}) | ALWAYS_KEPT_SERVICES)
    return out / "deployment.zip"


def extract_read_only(zip_path: Path, target: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    for path in sorted(target.rglob("*"), reverse=True):
        path.chmod(path.stat().st_mode & ~0o222)
    target.chmod(target.stat().st_mode & ~0o222)
    return target


def run_once(
    task_root: Path, tracing: bool, door: dict[str, str] | None = None, snapstart: Path | None = None
) -> tuple[float, float, float, float]:
    """Wall seconds and peak MiB of a fresh process importing app.py and answering one request, and the two parts in it.

    ``door``: the stand-in's environment; the request is then the signed webhook instead of ``GET /health``.
    ``snapstart``: the runtime's directory holding its hooks library; the init is then a snapshotted one (the
    door's function), the after-restore hooks run before the request. Returns (wall, MiB, init s, request s).
    """
    request, status = (door_request(), 202) if door else (REQUEST, 200)
    code = CHILD.format(root=str(task_root), event=json.dumps(request), status=status)
    env = {**lambda_env(task_root, tracing), **(door or {})}
    if snapstart is not None:
        code = f"import sys; sys.path.append({str(snapstart)!r})\n" + code  # the runtime's own directory, after the package
        env.update(AWS_LAMBDA_INITIALIZATION_TYPE="snap-start", SALESBRIDGE_FUNCTION="WebhookHandler")
        for name in ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"):  # not set for SnapStart functions
            env.pop(name)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], env=env, cwd=task_root, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"the package in {task_root} failed:\n{out.stderr[-3000:]}")
    peak, init, answer = out.stdout.strip().splitlines()[-1].split()
    return wall, int(peak) / 1024, float(init), float(answer)


def measure(
    roots: dict[str, Path], tracing: bool, door: dict[str, str] | None = None, snapstart: Path | None = None
) -> dict[str, tuple[float, float]]:
    """Median milliseconds and MiB per package, the packages taking turns run by run (the same machine load for both).

    With ``snapstart``: median milliseconds of the init (what the snapshot holds) and of the first request after it.
    """
    samples: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in roots}
    for _ in range(RUNS):
        for name, root in roots.items():
            samples[name].append(run_once(root, tracing, door, snapstart))
    if snapstart is not None:
        return {
            name: (statistics.median(s[2] for s in runs) * 1000, statistics.median(s[3] for s in runs) * 1000)
            for name, runs in samples.items()
        }
    return {name: (statistics.median(s[0] for s in runs) * 1000, statistics.median(s[1] for s in runs)) for name, runs in samples.items()}


def runtime_hooks_dir(work: Path) -> Path:
    """A directory holding only the runtime hooks' library, as Lambda's Python runtime provides it (not packaged)."""
    import snapshot_restore_py

    target = work / "var-runtime"
    target.mkdir()
    shutil.copy(snapshot_restore_py.__file__, target / "snapshot_restore_py.py")
    return target


def report_snapstart(measured: dict[str, tuple[float, float]], tracing: bool) -> None:
    (bare_init, bare_request), (app_init, app_request) = measured["bare"], measured["app"]
    ratio = app_request / bare_request
    print(
        f"cold start of the door after a SnapStart restore, tracing {'on' if tracing else 'off'}: "
        f"first request {app_request:.0f} ms vs bare chalice+boto3 "
        f"{bare_request:.0f} ms -> {ratio:.2f}x (init held by the snapshot: {app_init:.0f} ms vs {bare_init:.0f} ms; "
        f"the restore itself is Lambda's and not measured here; in-process times, median of {RUNS}) — "
        f"goal ≤ {GOAL}x (stretch {STRETCH}x): {time_verdict(ratio)}"
    )


def time_verdict(ratio: float) -> str:
    return "stretch met" if ratio <= STRETCH else ("goal met" if ratio <= GOAL else "goal NOT met")


def verdict(ratio: float, memory: float) -> str:
    return f"{time_verdict(ratio)}, memory goal {'met' if memory <= MEMORY_GOAL else 'NOT met'}"


def report(title: str, what: str, measured: dict[str, tuple[float, float]], sizes: str) -> None:
    (base_ms, base_mib), (app_ms, app_mib) = measured["bare"], measured["app"]
    ratio, memory = app_ms / base_ms, app_mib / base_mib
    print(
        f"{title}: deployment package {app_ms:.0f} ms / {app_mib:.0f} MiB vs "
        f"bare chalice+boto3 package {base_ms:.0f} ms / {base_mib:.0f} MiB -> {ratio:.2f}x time, {memory:.2f}x memory "
        f"(extracted, read-only, no bytecode written, Lambda env; {what}; median of {RUNS}; "
        f"{sizes}) — goal ≤ {GOAL}x (stretch {STRETCH}x), memory ≤ {MEMORY_GOAL}x: {verdict(ratio, memory)}"
    )


@contextmanager
def door_standin() -> Iterator[dict[str, str]]:
    """A local stand-in with the stack's queues and the connectors' secrets; yields the environment that points at it."""
    import boto3

    from benchmarks.standin import start_standin
    from infra import resources
    from local.run import FAKE_CREDENTIALS
    from local.seed import seed_parameters

    process, endpoint = start_standin()
    try:
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # the session's clients read it
        env = resources.create_all(session)
        seed_parameters(session)
        yield {**env, "AWS_ENDPOINT_URL": endpoint}
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    from infra.package import build

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = build(work / "out", lint_template=False, quiet=True) / "deployment.zip"
        bare = package_bare_app(work)
        sizes = f"{ours.stat().st_size / 1e6:.1f} MB vs {bare.stat().st_size / 1e6:.1f} MB zipped"
        app_root = extract_read_only(ours, work / "task-app")
        bare_root = extract_read_only(bare, work / "task-bare")
        roots = {"bare": bare_root, "app": app_root}
        try:
            for tracing in (False, True):
                report(f"cold start, tracing {'on ' if tracing else 'off'}", "import app.py + GET /health", measure(roots, tracing), sizes)
            with door_standin() as door:
                measured = measure(roots, False, door)
                hooks = runtime_hooks_dir(work)
                restored = {tracing: measure(roots, tracing, door, hooks) for tracing in (False, True)}
            what = "import app.py + a signed webhook: its secret from SSM, the record onto SQS (local stand-in)"
            report("cold start of the door, tracing off", what, measured, sizes)
            for tracing, measured in restored.items():
                report_snapstart(measured, tracing)
        finally:
            for root in (app_root, bare_root):
                for path in [root, *root.rglob("*")]:
                    path.chmod(path.stat().st_mode | 0o200)


if __name__ == "__main__":
    main()

"""Webhook acknowledgement latency: the real door vs a route that only answers 202.

Both run under `chalice local` over real HTTP on 127.0.0.1, with the AWS stand-in
(moto) behind the real door: signature check (secret from SSM), body checks, split,
SQS FIFO send, 202. The client sends N signed deliveries one after another and
reports median and p99 per route; the ratio is the cost of our door over HTTP alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N = int(os.environ.get("BENCH_REQUESTS", "300"))

BARE_APP = """
from chalice import Chalice, Response
app = Chalice(app_name="bare")

@app.route("/webhooks/{connector}", methods=["POST"], content_types=["application/json"])
def webhook(connector):
    return Response(body='{"receipt_id": "x", "records": 1}', status_code=202, headers={"Content-Type": "application/json"})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def serve(project: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    chalice = Path(sys.executable).parent / "chalice"
    process = subprocess.Popen(
        [str(chalice), "local", "--host", "127.0.0.1", "--port", str(port), "--stage", "local", "--no-autoreload"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait(port)
    return process


def latencies(url: str, bodies: list[bytes]) -> list[float]:
    times = []
    with httpx.Client() as client:
        for body in bodies[:20]:  # warm-up: first requests load configuration and clients
            client.post(url, content=body, headers=headers(body))
        for body in bodies:
            start = time.perf_counter()
            response = client.post(url, content=body, headers=headers(body))
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 202:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return times


def in_process(env: dict[str, str], bare: Path, bodies: list[bytes]) -> tuple[list[float], list[float], float]:
    """The same requests straight into the handlers as API Gateway events (what Lambda runs)."""
    import importlib.util

    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "SALESBRIDGE_")) or k.endswith(("_TABLE", "_URL", "_NAME"))})
    import app as door_app

    spec = importlib.util.spec_from_file_location("bare_app", bare / "app.py")
    bare_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bare_module)

    from chalicelib.runtime import aws

    in_aws = [0.0]
    started: list[float] = []
    sqs_events = aws.client("sqs").meta.events
    sqs_events.register("before-call.sqs.*", lambda **_: started.append(time.perf_counter()))
    sqs_events.register("after-call.sqs.*", lambda **_: in_aws.__setitem__(0, in_aws[0] + time.perf_counter() - started.pop()))

    def timed(application) -> list[float]:
        times = []
        for i, body in enumerate(bodies[:20] + bodies):
            event = {
                "resource": "/webhooks/{connector}",
                "path": "/webhooks/demo_crm",
                "httpMethod": "POST",
                "headers": {**headers(body), "Host": "127.0.0.1"},
                "multiValueHeaders": {},
                "queryStringParameters": None,
                "multiValueQueryStringParameters": None,
                "pathParameters": {"connector": "demo_crm"},
                "stageVariables": None,
                "requestContext": {
                    "resourcePath": "/webhooks/{connector}",
                    "httpMethod": "POST",
                    "path": "/webhooks/demo_crm",
                    "stage": "local",
                    "requestId": str(i),
                    "identity": {"sourceIp": "127.0.0.1"},
                },
                "body": body.decode(),
                "isBase64Encoded": False,
            }
            start = time.perf_counter()
            response = application(event, None)
            if i == 19:
                in_aws[0] = 0.0
            if i >= 20:
                times.append((time.perf_counter() - start) * 1000)
            if response["statusCode"] != 202:
                raise SystemExit(f"in-process: {response}")
        return times

    door_times = timed(door_app.app)
    outside = statistics.mean(door_times) - in_aws[0] * 1000 / len(bodies)
    return door_times, timed(bare_module.app), outside


def headers(body: bytes) -> dict[str, str]:
    signature = hmac.new(b"demo-secret", body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Demo-Signature": f"sha256={signature}"}


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    from local.run import create_resources, stack_environment

    aws_port, app_port, bare_port = free_port(), free_port(), free_port()
    env = stack_environment(aws_port)
    moto = subprocess.Popen(
        [sys.executable, "-m", "local.aws_standin", "-H", "127.0.0.1", "-p", str(aws_port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes = [moto]
    try:
        wait(aws_port)
        env.update(create_resources(env))
        processes.append(serve(ROOT, app_port, env))
        with tempfile.TemporaryDirectory() as tmp:
            bare = Path(tmp)
            (bare / ".chalice").mkdir()
            (bare / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "app_name": "bare", "stages": {"local": {}}}))
            (bare / "app.py").write_text(BARE_APP)
            processes.append(serve(bare, bare_port, env))
            bodies = [
                json.dumps(
                    {
                        "event_id": f"bench-{i}",
                        "customer": {"id": f"C-{i % 50}", "name": "Acme", "tier": "Gold", "updated_at": "2026-11-01T08:00:00+08:00"},
                    }
                ).encode()
                for i in range(N)
            ]
            door = latencies(f"http://127.0.0.1:{app_port}/webhooks/demo_crm", bodies)
            baseline = latencies(f"http://127.0.0.1:{bare_port}/webhooks/demo_crm", bodies)
            handler_door, handler_bare, outside_aws = in_process(env, bare, bodies)
        print(
            f"webhook ack: door median {statistics.median(door):.1f} ms p99 {p99(door):.1f} ms vs bare 202 route median "
            f"{statistics.median(baseline):.1f} ms p99 {p99(baseline):.1f} ms -> p99 ratio {p99(door) / p99(baseline):.2f}x "
            f"(median {statistics.median(door) / statistics.median(baseline):.2f}x; {N} sequential requests, chalice local + moto SQS)"
        )
        print(
            f"webhook handler alone (in-process, no HTTP server): door median {statistics.median(handler_door):.2f} ms "
            f"p99 {p99(handler_door):.2f} ms vs bare {statistics.median(handler_bare):.3f} ms p99 {p99(handler_bare):.3f} ms "
            f"; the door's own work outside the SQS call: {outside_aws:.2f} ms mean"
        )
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()

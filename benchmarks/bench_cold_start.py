"""Cold-start proxy: a fresh process imports app.py and handles one request.

Compared, in the same run, with a bare Chalice app that imports boto3, creates a
client and answers one request. Lambda's environment variables are set (they change
what aws-xray-sdk does at import); tracing on and off are reported separately.
Median wall time and peak RSS over N process runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "15"))

REQUEST = {
    "resource": "/health",
    "path": "/health",
    "httpMethod": "GET",
    "headers": {"Host": "localhost"},
    "multiValueHeaders": {"Host": ["localhost"]},
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
import json, resource, sys
sys.path.insert(0, {root!r})
import {module} as m
class Ctx:
    function_name = "bench"; aws_request_id = "bench"; memory_limit_in_mb = 512
    def get_remaining_time_in_millis(self): return 30000
response = m.app(json.loads({event!r}), Ctx())
assert response["statusCode"] == 200, response
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BARE_APP = """
import boto3
from chalice import Chalice
app = Chalice(app_name="bare")
client = boto3.client("dynamodb", region_name="us-east-1")
@app.route("/health")
def health():
    return {"status": "ok"}
"""


def lambda_env(tracing: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_FUNCTION_NAME="salesbridge-bench",
        LAMBDA_TASK_ROOT=str(ROOT),
        AWS_EXECUTION_ENV="AWS_Lambda_python3.11",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_XRAY_SDK_ENABLED="true" if tracing else "false",
        AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR",
        SALESBRIDGE_STAGE="bench",
        SALESBRIDGE_LOCAL="1",  # lets the masking key come from the environment in this measurement
        SALESBRIDGE_PII_KEY="bench-key",
    )
    return env


def measure(module: str, path: Path, env: dict[str, str]) -> tuple[float, float]:
    code = CHILD.format(root=str(path), module=module, event=json.dumps(REQUEST))
    walls, rss = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=path, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"{module} failed:\n{out.stderr[-2000:]}")
        rss.append(int(out.stdout.strip().splitlines()[-1]) / 1024)
    return statistics.median(walls) * 1000, statistics.median(rss)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp)
        (bare / "bare_app.py").write_text(BARE_APP)
        for tracing in (False, True):
            env = lambda_env(tracing)
            base_ms, base_mib = measure("bare_app", bare, env)
            app_ms, app_mib = measure("app", ROOT, env)
            label = "on " if tracing else "off"
            print(
                f"cold start, tracing {label}: app.py {app_ms:.0f} ms / {app_mib:.0f} MiB vs bare chalice+boto3 "
                f"{base_ms:.0f} ms / {base_mib:.0f} MiB -> {app_ms / base_ms:.2f}x time, "
                f"{app_mib / base_mib:.2f}x memory (median of {RUNS})"
            )


if __name__ == "__main__":
    main()

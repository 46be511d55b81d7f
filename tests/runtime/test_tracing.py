"""X-Ray: wired in the Lambda path, silent when no daemon is there (and off locally)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
sys.path.insert(0, {root!r})
import app
from chalicelib.runtime import tracing
event = {{"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {{}}, "multiValueHeaders": {{}},
          "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
          "stageVariables": None, "requestContext": {{"resourcePath": "/health", "httpMethod": "GET", "stage": "api",
          "requestId": "t", "identity": {{"sourceIp": "127.0.0.1"}}}}, "body": None, "isBase64Encoded": False}}
response = app.app(event, None)
lazy = "aws_xray_sdk" not in sys.modules and "botocore" not in sys.modules  # /health makes no client: nothing to trace yet
from chalicelib.runtime import aws
aws.client("sqs")  # the first client: tracing is installed before it
patcher = sys.modules.get("aws_xray_sdk.core.patcher")
patched = bool(patcher) and {{"botocore", "httpx"}} <= set(patcher._PATCHED_MODULES)
print(json.dumps({{"status": response["statusCode"], "tracing": tracing.enabled(), "patched": patched, "lazy": lazy}}))
"""


def run_probe(extra: dict[str, str]) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_XRAY", "AWS_LAMBDA", "_X_AMZN"))}
    env.update(AWS_DEFAULT_REGION="us-east-1", SALESBRIDGE_LOCAL="1", SALESBRIDGE_PII_KEY="k", SALESBRIDGE_STAGE="test", **extra)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_tracing_is_on_in_lambda_and_silent_without_a_daemon():
    report, stderr = run_probe({"AWS_LAMBDA_FUNCTION_NAME": "salesbridge-api", "AWS_XRAY_SDK_ENABLED": "true"})
    assert report == {"status": 200, "tracing": True, "patched": True, "lazy": True}
    assert stderr.strip() == "", stderr


def test_tracing_is_off_locally():
    report, stderr = run_probe({"AWS_XRAY_SDK_ENABLED": "false"})
    assert report == {"status": 200, "tracing": False, "patched": False, "lazy": True}
    assert stderr.strip() == ""

"""The CLI signs its calls to a deployed stage with the caller's AWS credentials (SigV4, execute-api).

A loopback server stands in for API Gateway: it recomputes the signature from the request it
actually received (method, path, query, headers, body), as API Gateway does, and refuses a
mismatch with 403. So a body or query that is sent differently from how it was signed fails.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cli import main as cli

ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class Gateway:
    """Checks SigV4 like API Gateway's AWS_IAM authorisation, then answers like the operator API."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = gateway.verify(self.command, self.path, dict(self.headers.items()), body)
                gateway.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body})
                answer = (
                    {"events": [], "echo": json.loads(body or b"null")}
                    if ok
                    else {"message": "The request signature we calculated does not match"}
                )
                data = json.dumps(answer).encode()
                self.send_response(200 if ok else 403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle  # noqa: N815 - http.server naming

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def verify(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        presented = headers.get("Authorization", "")
        if not presented.startswith("AWS4-HMAC-SHA256 "):
            return False
        signed_names = presented.split("SignedHeaders=")[1].split(",")[0].split(";")
        kept = {k: v for k, v in headers.items() if k.lower() in signed_names}
        request = AWSRequest(method=method, url=self.url + path, data=body, headers=kept)
        request.context["timestamp"] = headers["X-Amz-Date"]  # the time the client signed at
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", "eu-central-1")
        string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
        return presented.endswith(f"Signature={signer.signature(string_to_sign, request)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def gateway(monkeypatch):
    server = Gateway()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.delenv("SALESBRIDGE_TOKEN", raising=False)
    yield server
    server.close()


def test_calls_to_a_deployed_stage_are_signed_with_sigv4_query_and_body_included(gateway, capsys):
    assert (
        cli.main(
            ["--url", gateway.url, "--auth", "iam", "events", "--type", "customer.grade_changed", "--since", "2026-11-01T00:00:00+08:00"]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "--url",
                gateway.url,
                "--auth",
                "iam",
                "--actor",
                "mallory",
                "consent",
                "revoke",
                "--source",
                "demo_crm/customer/C 1",
                "--category",
                "inquiry",
            ]
        )
        == 0
    )
    get, put = gateway.seen
    assert get["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-central-1/execute-api/aws4_request" in get["headers"]["Authorization"]
    assert "since=2026-11-01T00%3A00%3A00%2B08%3A00" in get["path"]
    assert json.loads(put["body"]) == {"category": "inquiry", "status": "revoked", "purpose": None}
    assert "X-Salesbridge-Actor" not in put["headers"], "a deployed stage records the IAM identity, never a claimed name"
    assert "Bearer" not in json.dumps(gateway.seen, default=str)


def test_a_tampered_request_is_refused_by_the_gateway(gateway):
    """The stand-in gateway really checks: a body changed after signing fails."""
    import httpx

    url = gateway.url + "/erase?source=demo_crm%2Fcustomer%2FC-1"
    headers = cli.sign("POST", url, b'{"confirm": true}', {"Content-Type": "application/json"})
    assert httpx.post(url, content=b'{"confirm": false}', headers=headers).status_code == 403
    assert httpx.post(url, content=b'{"confirm": true}', headers=headers).status_code == 200


def test_the_address_decides_between_iam_and_the_local_token(monkeypatch):
    monkeypatch.delenv("SALESBRIDGE_AUTH", raising=False)
    args = cli.build_parser().parse_args(["events"])
    assert cli._uses_iam(args, "https://abc123.execute-api.eu-central-1.amazonaws.com/api")
    assert not cli._uses_iam(args, "http://127.0.0.1:8000")
    assert cli._region_of("abc123.execute-api.eu-central-1.amazonaws.com") == "eu-central-1"


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli.main(["--url", "https://abc123.execute-api.eu-central-1.amazonaws.com/api", "events"]) == 2
    assert "no AWS credentials" in capsys.readouterr().err


def test_console_login_asks_the_deployed_stage_for_a_link_signed_as_the_caller(gateway):
    assert cli.main(["--url", gateway.url, "--auth", "iam", "console-login"]) == 0
    (call,) = gateway.seen
    assert call["path"].startswith("/login-links") and json.loads(call["body"]) == {}
    assert call["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")

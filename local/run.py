"""`make run`: the whole stack on one machine, no AWS account, no Docker.

Starts the AWS stand-in (moto's server, local/aws_standin.py) on 127.0.0.1, creates every table, queue
and bus from infra/resources.py, starts `chalice local` for the HTTP routes and a
worker that drives the queue, stream and schedule handlers. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

from local.aws_standin import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local-stack"
LOCAL_SECRETS = {
    # Local-only values; deployed stages read theirs from SSM / Secrets Manager.
    "SALESBRIDGE_ADMIN_TOKEN": "local-admin-token",
    "SALESBRIDGE_PII_KEY": "local-pii-key",
    "SALESBRIDGE_CONSOLE_KEY": "local-console-key",
    "SALESBRIDGE_PRIVACY_TOKEN": "local-privacy-token",
}


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def stack_environment(aws_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{aws_port}"
    env.update({k: env.get(k, v) for k, v in LOCAL_SECRETS.items()})
    env["SALESBRIDGE_STAGE"] = "local"
    env["SALESBRIDGE_JSON_LOGS"] = "1"  # the worker's and the API's log lines are JSON, with EMF metrics, as in Lambda
    # The operator routes' IAM authorizer is API Gateway's; locally the bearer token stands in (chalicelib/api/auth.py).
    env["PYTHONWARNINGS"] = "ignore:IAMAuthorizer is not a supported in local mode"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def create_resources(env: dict[str, str]) -> dict[str, str]:
    from infra import resources

    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    os.environ["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL"]
    created = resources.create_all(session)
    from local.seed import seed_parameters

    seed_parameters(session)
    return created


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run salesbridge locally on an embedded AWS stand-in.")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SALESBRIDGE_PORT", "8000")), help="HTTP port of the API (default 8000)"
    )
    parser.add_argument(
        "--aws-port", type=int, default=int(os.environ.get("SALESBRIDGE_AWS_PORT", "4599")), help="port of the AWS stand-in (default 4599)"
    )
    args = parser.parse_args(argv)

    python = sys.executable
    env = stack_environment(args.aws_port)
    processes: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        """Worker first, then the API, then the stand-in they both talk to."""
        for p in reversed(processes):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()

    def terminate(*_: object) -> None:
        stop_all()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even when started from a script
    try:
        processes.append(
            subprocess.Popen(
                [python, "-m", "local.aws_standin", "-H", "127.0.0.1", "-p", str(args.aws_port)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port("127.0.0.1", args.aws_port)
        env.update(create_resources(env))
        # Validate the configuration before starting anything that serves it.
        check = subprocess.run(
            [
                python,
                "-c",
                "from chalicelib.configuration import current; c = current(); "
                "print(len(c.connectors), 'connectors,', len(c.mappings.mappings), 'mappings loaded')",
            ],
            env=env,
            cwd=ROOT,
        )
        if check.returncode != 0:
            print("the configuration has problems (above); fix them and run again", file=sys.stderr)
            return 2
        chalice = [
            str(Path(python).parent / "chalice"),
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--stage",
            "local",
            "--no-autoreload",
        ]
        processes.append(subprocess.Popen(chalice, env=env, cwd=ROOT))
        processes.append(subprocess.Popen([python, "-m", "local.worker"], env=env, cwd=ROOT))
        wait_for_port("127.0.0.1", args.port)
        STATE_DIR.mkdir(exist_ok=True)
        (STATE_DIR / "env").write_text(
            "".join(
                f"{k}={v}\n"
                for k, v in sorted(env.items())
                if k.startswith(("AWS_", "SALESBRIDGE_")) or k.endswith(("_TABLE", "_URL", "_NAME"))
            )
        )
        print(
            f"\nsalesbridge is running\n"
            f"  API            http://127.0.0.1:{args.port}   (admin token: {env['SALESBRIDGE_ADMIN_TOKEN']})\n"
            f"  console        http://127.0.0.1:{args.port}/console   (log in with the admin token; privacy officer: "
            f"{env['SALESBRIDGE_PRIVACY_TOKEN']})\n"
            f"  AWS stand-in   {env['AWS_ENDPOINT_URL']}\n"
            f"  worker         polling the webhook lane, then the bulk lane, and the events stream\n"
            f"Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = [p.args for p in processes if p.poll() is not None]
        print(f"a process stopped: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())

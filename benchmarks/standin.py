"""The local AWS stand-in as ``make run`` starts it (local/aws_standin.py), on a free port, for a benchmark of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_standin() -> tuple[subprocess.Popen[bytes], str]:
    """The stand-in's process and its endpoint URL; terminate the process when done."""
    from local.run import wait_for_port

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "local.aws_standin", "-p", str(port)], cwd=ROOT, stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port)
    return process, f"http://127.0.0.1:{port}"

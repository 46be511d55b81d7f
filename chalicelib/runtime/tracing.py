"""AWS X-Ray tracing: on in Lambda, silent everywhere else.

Without a daemon the SDK logs an error on every call; locally and in tests it is
switched off with AWS_XRAY_SDK_ENABLED=false. In Lambda it patches botocore and
httpx so each DynamoDB/SQS call and each vendor call is a subsegment. ``install``
runs when the first AWS client (runtime/aws.py) or HTTP client is made, so a cold
start that needs neither imports neither the SDK nor botocore.
"""

from __future__ import annotations

import logging
import os

_installed = False


def enabled() -> bool:
    flag = os.environ.get("AWS_XRAY_SDK_ENABLED", "true").strip().lower()
    return flag not in ("false", "0", "no") and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def install() -> bool:
    """Patch the clients once per container; returns whether tracing is on."""
    global _installed
    if _installed or not enabled():
        return _installed
    from aws_xray_sdk.core import patch, xray_recorder

    logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
    xray_recorder.configure(context_missing="IGNORE_ERROR", service="salesbridge")
    patch(["botocore", "httpx"])
    _installed = True
    return True


def renew_emitter() -> None:
    """After a restore from a snapshot: segments go out through a socket of this environment's own, not the snapshot's."""
    if not _installed:
        return
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

    xray_recorder.emitter = UDPEmitter()  # the daemon's address from AWS_XRAY_DAEMON_ADDRESS, as at install

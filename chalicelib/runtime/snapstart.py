"""Lambda SnapStart: the door's cold start paid once, when a version is published.

With SnapStart (the webhook door's function: infra/template.py), Lambda runs the init phase when
a version is published, snapshots the process and starts later cold starts from that snapshot.
Importing app.py alone would leave the door's real cost to the first request after each restore
(the connector files, the verifiers, the SDK's models), so ``prepare`` does that work in init, and
only in an init that is snapshotted (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``): an on-demand
cold start is unchanged.

Nothing that must differ between environments is made before the snapshot: no credentials, client,
connection or secret (each is made on first use, after the restore). After each restore ``random``
is reseeded, or every restored environment would draw the same retry jitter, and X-Ray, when the
primer installed it, gets a socket of the environment's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

SNAPSHOT_INIT = "snap-start"  # AWS_LAMBDA_INITIALIZATION_TYPE of an init that Lambda snapshots
DOOR_FUNCTION = "WebhookHandler"  # SALESBRIDGE_FUNCTION of the door (infra/template.py)


def prepare(primers: Mapping[str, Callable[[], None]]) -> bool:
    """In a snapshotted init: register the after-restore hook and run this function's primer; elsewhere nothing (False).

    ``primers``: by function (``SALESBRIDGE_FUNCTION``, infra/template.py), the work its first request would do.
    """
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != SNAPSHOT_INIT:
        return False
    from snapshot_restore_py import register_after_restore  # type: ignore[import-untyped]  # in Lambda's Python runtime, not the package

    register_after_restore(after_restore)
    primer = primers.get(os.environ.get("SALESBRIDGE_FUNCTION", ""))
    if primer is not None:
        primer()
    return True


def after_restore() -> None:
    """What each restored environment must not share with the others."""
    from chalicelib.runtime import tracing

    reseed()
    tracing.renew_emitter()


def reseed() -> None:
    """Fresh entropy for ``random`` (``secrets`` and ``uuid4`` read the OS's, already fresh after a restore)."""
    import random

    random.seed()

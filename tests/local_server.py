"""The app served over HTTP on 127.0.0.1 by Chalice's local server (as `make run` serves it), in this process."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving_app() -> Iterator[str]:
    """Serve ``app.app`` until the block ends; yields its base URL."""
    from chalice.config import Config
    from chalice.local import create_local_server

    import app as application

    original = application.app.__class__  # create_local_server swaps the app's class; put it back afterwards
    port = free_port()
    server = create_local_server(application.app, Config.create(chalice_stage="local", lambda_timeout=60), "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        application.app.__class__ = original

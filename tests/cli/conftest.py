"""The app served over HTTP on 127.0.0.1 for CLI tests (Chalice's local server, as `make run` serves it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local_server import serving_app


@pytest.fixture()
def served(stack) -> Iterator[str]:
    """The `stack` app (fresh AWS stand-in, local secrets) at an http://127.0.0.1 address."""
    with serving_app() as url:
        yield url

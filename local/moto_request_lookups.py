"""Two facts moto's server recomputes on every request, computed once.

For every request, moto (5.x) lists its own service packages (a directory listing and one
``stat`` per service, about 160) to route the request, and lists the handler class's methods
(``inspect.getmembers``) to find the action: together about 3 ms a request on the build
machines, as much as a DynamoDB transaction's own work. Neither changes while the server
runs. ``CachedRequestLookups`` computes each once (per handler class); the answers are the
same values moto computes. Self-contained, so it can be offered to moto.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from moto import backends
from moto.core import responses


class CachedRequestLookups:
    """Installs the cached lookups on moto's server (process-wide)."""

    # moto's own: kept to uninstall and to compare with
    moto_list_of_moto_modules = backends.list_of_moto_modules
    moto_method_names_from_class = responses.method_names_from_class  # type: ignore[attr-defined]

    @classmethod
    def install(cls) -> None:
        backends.list_of_moto_modules = cls.list_of_moto_modules
        responses.method_names_from_class = cls.method_names_from_class  # type: ignore[attr-defined]

    @classmethod
    def uninstall(cls) -> None:
        backends.list_of_moto_modules = cls.moto_list_of_moto_modules
        responses.method_names_from_class = cls.moto_method_names_from_class  # type: ignore[attr-defined]

    @staticmethod
    @cache
    def list_of_moto_modules() -> Iterable[str]:
        return tuple(CachedRequestLookups.moto_list_of_moto_modules())

    @staticmethod
    @cache
    def method_names_from_class(clazz: object) -> list[str]:
        return CachedRequestLookups.moto_method_names_from_class(clazz)

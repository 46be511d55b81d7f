"""What an operator may see of personal data: masked values, unless the role is privacy_officer.

Masking uses the audit trail's keyed hash (``masked:…``), so one value shows as the same token
in the console and in the audit entries. Personal means a data category the audit trail masks
(chalicelib.store.audit.PERSONAL_CATEGORIES), as the mapping files declare per field.

Raw inputs are shown through an allow-list: a value is shown in clear only where a mapping
path says it holds the record's id, its timestamp or a field of a non-personal category;
everything else in the payload (unmapped keys included) is masked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.configuration import Configuration

_QUOTED = re.compile(r"""(['"])(.*?)\1""")


class Masker:
    def __init__(self, config: Configuration, reveal: bool):
        from chalicelib.domain.consent import PERSONAL_CATEGORIES

        self.config = config
        self.reveal = reveal
        self.personal = {
            name for m in config.mappings.mappings.values() for name, category in m.categories.items() if category in PERSONAL_CATEGORIES
        }

    def mask(self, value: Any) -> Any:
        from chalicelib.store.audit import mask

        if self.reveal or value is None:
            return value
        return mask(value, self.config.pii_key)

    def field(self, name: str, value: Any) -> Any:
        return self.mask(value) if name in self.personal else value

    def fields(self, values: dict[str, Any]) -> dict[str, Any]:
        return {name: self.field(name, value) for name, value in values.items()}

    def reason(self, message: str, field: str | None) -> str:
        """A quarantine reason about a personal field quotes the bad value (``not a valid e-mail address: 'x'``): mask it."""
        if self.reveal or field not in self.personal:
            return message
        return _QUOTED.sub(lambda m: m.group(1) + str(self.mask(m.group(2))) + m.group(1), message)

    def raw_input(self, payload: Any, mapping: str | None) -> Any:
        """The payload with every value outside the mapping's non-personal paths masked."""
        if self.reveal:
            return payload
        compiled = self.config.mappings.mappings.get(mapping or "")
        clear = _clear_paths(str(self.config.root / compiled.file), compiled.version) if compiled is not None else frozenset()
        return _walk(payload, "", clear, self.mask)

    def dry_run(self, result: dict[str, Any]) -> dict[str, Any]:
        """A dry-run result with personal fields masked in the record and the diff against the stored state."""
        if self.reveal:
            return result
        shown = dict(result)
        if isinstance(result.get("record"), dict) and isinstance(result["record"].get("fields"), dict):
            shown["record"] = dict(result["record"], fields=self.fields(result["record"]["fields"]))
        if isinstance(result.get("changes"), dict):
            shown["changes"] = {
                name: {side: self.field(name, value) for side, value in change.items()} if isinstance(change, dict) else change
                for name, change in result["changes"].items()
            }
        return shown


def _walk(value: Any, path: str, clear: frozenset[str], mask: Any) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, f"{path}.{k}" if path else str(k), clear, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", clear, mask) for i, v in enumerate(value)]
    return value if path in clear else mask(value)


@lru_cache(maxsize=64)
def _clear_paths(file: str, version: str) -> frozenset[str]:
    """Source paths the mapping file names for the id, the timestamp and non-personal fields (``version`` keys the cache)."""
    import yaml

    from chalicelib.domain.consent import PERSONAL_CATEGORIES

    try:
        doc = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return frozenset()
    paths = {doc.get("id"), doc.get("timestamp")}
    for spec in (doc.get("fields") or {}).values():
        if isinstance(spec, str):
            paths.add(spec)
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str) and spec.get("category") not in PERSONAL_CATEGORIES:
            paths.add(spec["path"])
    return frozenset(p for p in paths if isinstance(p, str))

"""Who is being erased, and how a stored value that names them is found and masked.

A customer is named by its golden id (and the ids merged into it), each member's source
record id, and its identifiers: e-mail, phone, tax id and name. Stored copies spell these
differently (a raw payload keeps the vendor's phone format, a sync dedupe key embeds the
source id), so each kind is matched the way it can appear:

- golden ids and e-mail addresses anywhere inside a text (e-mail case-insensitively);
- phone numbers as the customer's digits with any spaces, dots, hyphens or brackets between
  them, and with or without the +86 / 0086 prefix;
- tax ids inside the text with spaces and hyphens removed, case-insensitively;
- source record ids as a whole token (not inside a longer run of letters and digits, nor a
  decimal number; case ignored), and as a number only under a key that names an id;
- names only as a whole value (after whitespace and case folding): a name inside free text
  is not searched, since a short company name would match other customers' data.

Masking replaces what matched by the erasure's masked token; everything else stays.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain.identity import normalise_email, normalise_phone, normalise_tax_id, normalise_text

_ID_KEY = re.compile(r"id$|_id|^id", re.IGNORECASE)


@dataclass(frozen=True)
class Subject:
    """The identifiers an erasure searches for, and the token that replaces them."""

    token: str
    golden_ids: frozenset[str] = field(default_factory=frozenset)
    source_ids: frozenset[str] = field(default_factory=frozenset)
    emails: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)
    tax_ids: frozenset[str] = field(default_factory=frozenset)
    names: frozenset[str] = field(default_factory=frozenset)

    def needles(self) -> list[str]:
        """Every identifier in the form it is searched for (what a test scans the tables for)."""
        return sorted(self.golden_ids | self.source_ids | self.emails | self.phones | self.tax_ids | self.names)


def subject_of(token: str, golden_ids: list[str], source_ids: list[str], values: list[tuple[str, Any]], match_keys: list[str]) -> Subject:
    """The subject from its ids, its field values (``(field, value)``) and its match keys (``email:a@b``)."""
    emails, phones, tax_ids, names = set(), set(), set(), set()
    pairs = list(values) + [tuple(k.split(":", 1)) for k in match_keys if ":" in k]
    for name, value in pairs:
        if value is None or value == "":
            continue
        if name == "email" and (email := normalise_email(value)):
            emails.add(email)
        elif name == "phone" and (phone := normalise_phone(value)):
            phones.add(phone)
        elif name == "tax_id" and (tax_id := normalise_tax_id(value)):
            tax_ids.add(tax_id)
        elif name == "name" and (text := normalise_text(value)):
            names.add(text)
    return Subject(
        token=token,
        golden_ids=frozenset(i for i in golden_ids if i),
        source_ids=frozenset(str(i) for i in source_ids if str(i)),
        emails=frozenset(emails),
        phones=frozenset(phones),
        tax_ids=frozenset(tax_ids),
        names=frozenset(names),
    )


class _Number:
    """A number inside JSON text, kept as written (so masking never changes how an amount is spelt)."""

    def __init__(self, text: str):
        self.text = text


_NUMBER_MARK = re.compile(r'"\\u0000([^"\\]*)\\u0000"')


class Masker:
    """Finds and masks the subject in stored values (strings, numbers, maps, lists, JSON text)."""

    def __init__(self, subject: Subject):
        self.subject = subject
        self.token = subject.token
        strong = [re.escape(i) for i in sorted(subject.golden_ids | subject.emails, key=len, reverse=True)]
        self._strong = re.compile("|".join(strong), re.IGNORECASE) if strong else None
        ids = [re.escape(i) for i in sorted(subject.source_ids, key=len, reverse=True)]
        phones = [r"[\s().\-]*".join(p) for p in sorted(self.subject.phones, key=len, reverse=True)]
        prefix = r"(?:(?:\+|00)?86[\s().\-]*)?"
        self._phones = re.compile(rf"(?<!\d){prefix}(?:{'|'.join(phones)})(?!\d)") if phones else None
        self._ids = re.compile(rf"(?<![A-Za-z0-9.])(?:{'|'.join(ids)})(?![A-Za-z0-9]|\.\d)", re.IGNORECASE) if ids else None

    def text(self, value: str) -> str:
        """Plain text with every identifier of the subject replaced by the token."""
        if normalise_text(value) in self.subject.names:
            return self.token
        out = self._strong.sub(self.token, value) if self._strong else value
        out = self._ids.sub(self.token, out) if self._ids else out
        if self._phones and self._phones.search(out):
            out = self._phones.sub(self.token, out)
        if self.subject.tax_ids:
            out = self._tax_ids(out)
        return out

    def _tax_ids(self, text: str) -> str:
        compact = re.sub(r"[\s\-]", "", text).upper()
        for tax_id in self.subject.tax_ids:
            if tax_id in compact:
                text = re.sub(r"[\s\-]*".join(re.escape(c) for c in tax_id), self.token, text, flags=re.IGNORECASE)
        return text

    def value(self, value: Any, key: str = "") -> Any:
        """A stored value (as boto3 reads it) with the subject masked: maps, lists and JSON text walked."""
        if isinstance(value, str):
            parsed = _json_document(value)
            if parsed is None:
                return self.text(value)
            masked = self.value(parsed, key)
            return value if masked == parsed else _dump(masked)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        if isinstance(value, _Number):
            return self.token if value.text in self.subject.source_ids and _ID_KEY.search(key) else value
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and _ID_KEY.search(key):
            return self.token if str(value) in self.subject.source_ids else value
        return value

    def names(self, value: Any) -> bool:
        """Whether the value mentions the subject anywhere."""
        return bool(_comparable(self.value(value)) != _comparable(value))


def _json_document(text: str) -> Any:
    """The parsed JSON object or array a stored text holds (raw inputs, events, audit content), else None."""
    if text[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text, parse_int=_Number, parse_float=_Number)
    except ValueError:
        return None


def _dump(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=lambda n: f"\x00{n.text}\x00")
    return _NUMBER_MARK.sub(lambda m: m.group(1), text)


def _comparable(value: Any) -> Any:
    if isinstance(value, _Number):
        return ("number", value.text)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value

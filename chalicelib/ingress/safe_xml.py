"""Hardened XML parsing for vendor bodies (SOAP, WeCom envelopes).

No DTDs at all: entity expansion ("billion laughs") and external entities are
refused before anything is expanded or fetched. defusedxml is imported on first
use so JSON-only webhooks do not pay for it at cold start.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import UnsafeOrMalformedXml


def parse_xml(body: bytes) -> Any:
    """Parse bytes into an ElementTree element, refusing DTDs, entities and external references."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if not body.strip():
        raise UnsafeOrMalformedXml("malformed_xml", "XML body is empty")
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeOrMalformedXml("unsafe_xml", f"XML refused: {type(exc).__name__} (DTDs and entities are not accepted)") from None
    except ParseError as exc:
        raise UnsafeOrMalformedXml("malformed_xml", f"XML is not well-formed: {exc}") from None
    except (LookupError, ValueError) as exc:  # an unknown or wrong encoding="…" in the declaration
        raise UnsafeOrMalformedXml("malformed_xml", f"XML cannot be read: {exc}") from None


def local_name(tag: str) -> str:
    """``{namespace}Name`` → ``Name``."""
    return tag.rsplit("}", 1)[-1]

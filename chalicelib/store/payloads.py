"""Raw payloads too large for a DynamoDB item, kept in S3 by claim check.

DynamoDB refuses an item over 400 KB. A quarantine or inputs item whose raw input would pass
``INLINE_BYTES`` keeps a reference (``raw_ref``: ``s3://<bucket>/<key>``) instead, and the raw
input goes to the payload bucket first, so the item never names an object that is not there.
The bucket expires its objects after the inputs table's retention (infra/resources.py). ``erase``
deletes them at once: the erasure of a source's raw inputs calls it (with ``s3:DeleteObject``
granted to the function that erases, infra/permissions.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.errors import PayloadMissing
from chalicelib.runtime import aws

INLINE_BYTES = 300 * 1024  # room for the item's other attributes under DynamoDB's 400 KB
REF = "raw_ref"


def needs_claim_check(raw: str) -> bool:
    return len(raw.encode("utf-8")) > INLINE_BYTES


def quarantine_key(qid: str) -> str:
    return f"quarantine/{qid}"


def input_key(dedupe_key: str, received_at: str) -> str:
    return f"inputs/{hashlib.sha256(dedupe_key.encode()).hexdigest()}/{received_at}"


def kept(bucket: str, key: str, raw: str) -> dict[str, str]:
    """Write the payload to S3; the attribute the item holds instead of it."""
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=raw.encode("utf-8"), ContentType="application/json")
    return {REF: f"s3://{bucket}/{key}"}


def raw_of(item: dict[str, Any]) -> str:
    """An item's raw input, inline or claim-checked."""
    ref = item.get(REF)
    if not ref:
        return str(item["raw"])
    bucket, key = _location(str(ref))
    client = aws.client("s3")
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        raise PayloadMissing(f"the raw input {ref} is no longer kept (expired or erased)") from None
    return bytes(body).decode("utf-8")


def erase(refs: list[str]) -> int:
    """Delete claim-checked payloads (an erasure); returns how many references were given."""
    client = aws.client("s3")
    for ref in refs:
        bucket, key = _location(ref)
        client.delete_object(Bucket=bucket, Key=key)
    return len(refs)


def _location(ref: str) -> tuple[str, str]:
    bucket, _, key = ref.removeprefix("s3://").partition("/")
    return bucket, key

"""Run-time settings, read once per Lambda container from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    state_table: str
    audit_table: str
    events_table: str
    quarantine_table: str
    inputs_table: str
    inbound_queue_url: str  # the webhook lane
    bulk_queue_url: str  # the bulk lane: scheduled sync and backfills
    event_bus_name: str
    config_dir: Path
    audit_retention_days: int
    inputs_retention_days: int
    payload_bucket: str
    pii_key_ref: str
    admin_token_ref: str
    stage: str
    console_key_ref: str = "env:SALESBRIDGE_CONSOLE_KEY"  # signs console sessions and customer links
    privacy_token_ref: str = "env:SALESBRIDGE_PRIVACY_TOKEN"  # the privacy officer's console login
    public_url: str = ""  # the base URL customers' links point at; empty: the URL of the issuing request
    stats_table: str = "salesbridge-stats"  # the overview's approximate counters
    ssm_prefix: str = "/salesbridge"  # where relative secret references live; deployed: /salesbridge/<stage>


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        state_table=_env("STATE_TABLE", "salesbridge-state"),
        audit_table=_env("AUDIT_TABLE", "salesbridge-audit"),
        events_table=_env("EVENTS_TABLE", "salesbridge-events"),
        quarantine_table=_env("QUARANTINE_TABLE", "salesbridge-quarantine"),
        inputs_table=_env("INPUTS_TABLE", "salesbridge-inputs"),
        inbound_queue_url=_env("INBOUND_QUEUE_URL"),
        bulk_queue_url=_env("BULK_QUEUE_URL"),
        event_bus_name=_env("EVENT_BUS_NAME", "salesbridge-events"),
        config_dir=Path(_env("SALESBRIDGE_CONFIG_DIR", str(PROJECT_ROOT))),
        audit_retention_days=int(_env("AUDIT_RETENTION_DAYS", "400")),
        inputs_retention_days=int(_env("INPUTS_RETENTION_DAYS", "14")),
        payload_bucket=_env("PAYLOAD_BUCKET", "salesbridge-payloads"),
        pii_key_ref=_env("PII_KEY_REF", "env:SALESBRIDGE_PII_KEY"),
        admin_token_ref=_env("ADMIN_TOKEN_REF", "env:SALESBRIDGE_ADMIN_TOKEN"),
        stage=_env("SALESBRIDGE_STAGE", "local"),
        console_key_ref=_env("CONSOLE_KEY_REF", "env:SALESBRIDGE_CONSOLE_KEY"),
        privacy_token_ref=_env("PRIVACY_TOKEN_REF", "env:SALESBRIDGE_PRIVACY_TOKEN"),
        public_url=_env("PUBLIC_URL").rstrip("/"),
        stats_table=_env("STATS_TABLE", "salesbridge-stats"),
        ssm_prefix=_env("SSM_PREFIX", "/salesbridge"),
    )


def reset_settings() -> None:
    get_settings.cache_clear()


def resolve_ref_string(ref: str) -> str:
    """Resolve a setting that names a secret: ``ssm:/path``, ``secretsmanager:name`` or ``env:VAR``."""
    from chalicelib.runtime.secrets import EnvSecret, SecretsManagerSecret, SsmSecret, default_resolver

    kind, _, target = ref.partition(":")
    if not target:
        raise ValueError(f"secret reference {ref!r} must look like ssm:/path, secretsmanager:name or env:VAR")
    secret: SsmSecret | SecretsManagerSecret | EnvSecret
    if kind == "ssm":
        secret = SsmSecret(ssm=target)
    elif kind == "secretsmanager":
        secret = SecretsManagerSecret(secretsmanager=target)
    elif kind == "env":
        secret = EnvSecret(env=target)
    else:
        raise ValueError(f"secret reference {ref!r}: unknown kind {kind!r} (ssm, secretsmanager, env)")
    return default_resolver().get(secret)

"""`./salesbridge …` — the same operations as the HTTP operator surface, plus local config tools.

Operator commands talk to a running salesbridge over HTTP: a deployed stage with your AWS
credentials (SigV4), the local stack with its admin token; `config` and `mappings` commands
work on the files in this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ENV = ROOT / ".local-stack" / "env"


class CliError(Exception):
    pass


def _local_env() -> dict[str, str]:
    if not LOCAL_ENV.exists():
        return {}
    pairs = (line.split("=", 1) for line in LOCAL_ENV.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _uses_iam(args: argparse.Namespace, url: str) -> bool:
    """Deployed stages authenticate operators with AWS IAM; the local stack with its token."""
    from urllib.parse import urlparse

    chosen = getattr(args, "auth", None) or os.environ.get("SALESBRIDGE_AUTH") or "auto"
    if chosen != "auto":
        return chosen == "iam"
    return (urlparse(url).hostname or "") not in LOCAL_HOSTS


def _connection(args: argparse.Namespace) -> tuple[str, str]:
    local = _local_env()
    url = args.url or os.environ.get("SALESBRIDGE_URL") or "http://127.0.0.1:8000"
    token = args.token or os.environ.get("SALESBRIDGE_TOKEN") or local.get("SALESBRIDGE_ADMIN_TOKEN", "")
    if not token and not _uses_iam(args, url):
        raise CliError("no admin token: pass --token or set SALESBRIDGE_TOKEN")
    return url.rstrip("/"), token


def _region_of(host: str) -> str | None:
    """``abc123.execute-api.eu-central-1.amazonaws.com`` → ``eu-central-1``."""
    parts = host.split(".")
    if len(parts) > 3 and parts[1] == "execute-api":
        return parts[2]
    return None


def sign(method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """SigV4 for API Gateway (service ``execute-api``) with the caller's AWS credentials."""
    from urllib.parse import urlparse

    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError("no AWS credentials found (AWS_PROFILE, environment, SSO): the deployed operator API needs them")
    region = _region_of(urlparse(url).hostname or "") or session.get_config_variable("region")
    if not region:
        raise CliError("cannot tell the API's region from its address: set AWS_REGION")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def _call(args: argparse.Namespace, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
    import httpx

    base, token = _connection(args)
    clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    url = str(httpx.URL(base + path, params=clean))
    content = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if _uses_iam(args, base):
        headers = sign(method, url, content, headers)  # the audit trail records the IAM identity
    else:
        headers["Authorization"] = f"Bearer {token}"
        if getattr(args, "actor", None):
            headers["X-Salesbridge-Actor"] = args.actor
    try:
        response = httpx.request(method, url, content=content, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {base}: {exc} (is `make run` running?)") from None
    try:
        data = response.json()
    except ValueError:
        data = {"error": "bad_response", "message": response.text[:500]}
    if response.status_code >= 400:
        if isinstance(data, dict) and "error" not in data and "message" in data:
            data = {"error": "gateway", "message": data["message"]}  # API Gateway's own refusals (403, 429)
        raise CliError(f"{response.status_code} {data.get('error')}: {data.get('message')}")
    return data


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _show(args: argparse.Namespace, view: str, data: Any) -> None:
    """A readable table for the views that have one, the API's JSON with --json."""
    from cli.render import RENDERERS

    if getattr(args, "json", False) or view not in RENDERERS or not isinstance(data, dict):
        _print(data)
    else:
        print(RENDERERS[view](data))


class PipeSafe:
    """Standard output that stops quietly when the reader goes away (``salesbridge audit … | head``)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        # the rest of the output (and the interpreter's final flush) goes nowhere; the exit code stays the command's
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# ------------------------------------------------------------------------- commands
def cmd_audit(args: argparse.Namespace) -> int:
    _show(
        args,
        "audit",
        _call(
            args,
            "GET",
            "/audit",
            {
                "entity": args.entity,
                "source": args.source,
                "correlation": args.correlation,
                "day": args.day,
                "from": args.from_,
                "to": args.to,
                "limit": args.limit,
                "next": args.next,
            },
        ),
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    result = _call(args, "GET", "/audit/verify", {"entity": args.entity, "source": args.source})
    _print(result)
    return 0 if result.get("intact") else 1


def cmd_state(args: argparse.Namespace) -> int:
    _show(args, "state", _call(args, "GET", "/state", {"entity": args.entity, "source": args.source}))
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    params = {"type": args.type, "subject": args.subject, "since": args.since, "status": args.status}
    params |= {"limit": args.limit, "next": args.next}
    _show(args, "events", _call(args, "GET", "/events", params))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    if args.action == "list":
        params = {"connector": args.connector, "status": args.status, "next": args.next}
        _show(args, "quarantine list", _call(args, "GET", "/quarantine", params))
    elif args.action == "show":
        _print(_call(args, "GET", f"/quarantine/{_need(args.id, 'show needs the quarantine id')}"))
    elif args.action == "replay":
        return _replay(args)
    elif args.action == "discard":
        return _discard(args)
    return 0


def _discard(args: argparse.Namespace) -> int:
    """Discard one record, or every open record matching a filter (never all at once: a discard is final)."""
    filters = {k: v for k, v in {"connector": args.connector, "code": args.code, "mapping": args.mapping}.items() if v}
    if not (args.id or filters):
        raise CliError("discard needs an id or a filter (--connector, --code, --mapping); there is no --all for a discard")
    if not (args.reason or "").strip():
        raise CliError('discard needs --reason "…": why the records are given up (kept in the audit trail)')
    if args.id:
        _print(_call(args, "POST", f"/quarantine/{args.id}/discard", body={"reason": args.reason}))
    else:
        _print(_every_matching(args, "/quarantine/discard", filters | {"reason": args.reason}))
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Replay one record or all matching; with --mapping-file, first (or only, with --dry-run) through that file, nothing stored."""
    if not (args.id or args.connector or args.code or args.mapping or args.all):
        raise CliError("replay needs an id, a filter (--connector, --code, --mapping) or --all")
    path = f"/quarantine/{args.id}/replay" if args.id else "/quarantine/replay"
    filters = {"connector": args.connector, "code": args.code, "mapping": args.mapping}
    body: dict[str, Any] = {} if args.id else {k: v for k, v in filters.items() if v}

    def replay(body: dict[str, Any]) -> Any:
        return _call(args, "POST", path, body=body) if args.id else _every_matching(args, "/quarantine/replay", body)

    if args.mapping_file is None:
        _print(replay(body | {"dry_run": True} if args.dry_run else body))
        return 0
    try:
        body["mapping_file"] = Path(args.mapping_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {args.mapping_file}: {exc}") from None
    dry = replay(body | {"dry_run": True})
    if args.dry_run:
        _print(dry)
        return 0
    _print({"dry_run": dry, "replay": replay(body)})
    return 0


def _every_matching(args: argparse.Namespace, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Every matching record: the request again, after the previous answer's ``next``, until the answer is complete."""
    total: dict[str, Any] = {"results": []}
    while True:
        answer = _call(args, "POST", path, body=body)
        key = next(k for k in ("would_replay", "replayed", "discarded") if k in answer)
        total[key] = total.get(key, 0) + answer[key]
        total["results"] += answer["results"]
        if answer.get("complete", True):
            return total | {"complete": True}
        print(f"{'discarding' if key == 'discarded' else 'replaying'}: {total[key]} records so far", file=sys.stderr)
        body = body | {"after": answer["next"]}


def _need(value: str | None, message: str) -> str:
    if not value:
        raise CliError(message)
    return value


def cmd_dry_run(args: argparse.Namespace) -> int:
    """A deployed mapping by name, or an edited mapping file (not deployed yet), on one payload."""
    from cli.mappings import read_payload

    payload = json.loads(json.dumps(read_payload(args.payload), default=str))
    path = Path(args.mapping)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        _print(_call(args, "POST", "/mappings/try", body={"mapping": path.read_text(encoding="utf-8"), "payload": payload}))
    else:
        _print(_call(args, "POST", f"/mappings/{args.mapping}/try", body=payload))
    return 0


def cmd_regression(args: argparse.Namespace) -> int:
    path = Path(args.file)
    name = args.mapping or path.stem
    result = _call(args, "POST", f"/mappings/{name}/regression", body={"mapping": path.read_text(encoding="utf-8"), "limit": args.limit})
    _print(result)
    return 1 if (result["field_changes"] or result["event_changes"]) and args.fail_on_change else 0


def _progress_bar(label: str):
    """A one-line progress bar on stderr (records, pages, and a percentage when the vendor gives a total)."""

    def show(step: Any) -> None:
        total = getattr(step, "total", None)
        line = f"\r{label}: {step.records:,} records, {step.pages:,} pages"
        if total:
            done = min(1.0, step.records / total)
            line += f" [{'=' * int(done * 30):<30}] {done:.0%} of {total:,}"
        print(line, end="", file=sys.stderr, flush=True)

    return show


def cmd_backfill(args: argparse.Namespace) -> int:
    """The initial load of one stream; interrupt it at will, running it again resumes."""
    from chalicelib.configuration import load_configuration
    from chalicelib.runtime import queue
    from chalicelib.runtime.settings import get_settings
    from chalicelib.sync.backfill import backfill
    from chalicelib.sync.sink import bulk_lane_sink, processor_quarantine

    _use_local_stack(args)
    queue_url = os.environ.get(queue.BULK_LANE.queue_env)  # the bulk lane: a backfill never delays a webhook
    if not queue_url:
        raise CliError(f"{queue.BULK_LANE.queue_env} is not set: point the CLI at a stage (and its AWS credentials) or use --local")
    config = load_configuration(Path(args.root).resolve())
    connector = config.connectors.get(args.connector)
    if connector is None or connector.api is None:
        raise CliError(f"connector {args.connector!r} has no api/streams section")
    try:
        stream = connector.api.stream(args.stream)
    except (KeyError, ValueError):
        raise CliError(
            f"connector {args.connector!r} has no stream {args.stream!r}; streams: {', '.join(s.name for s in connector.api.streams)}"
        ) from None
    try:
        result = backfill(
            connector.api,
            stream,
            sink=bulk_lane_sink(queue_url, processor_quarantine(config, get_settings())),
            progress=_progress_bar(f"{args.connector}/{args.stream}"),
        )
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume from the last enqueued page", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    print(json.dumps({"records": result.records, "pages": result.pages, "reason": result.reason, "error": result.error}, indent=2))
    return 0 if result.reason == "caught_up" else 1


def cmd_consent(args: argparse.Namespace) -> int:
    params = {"entity": args.entity, "source": args.source}
    if args.action == "show":
        _print(_call(args, "GET", "/consent", params))
    else:
        if not args.category:
            raise CliError(f"consent {args.action} needs --category")
        status = "granted" if args.action == "grant" else "revoked"
        _print(_call(args, "PUT", "/consent", params, body={"category": args.category, "status": status, "purpose": args.purpose}))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    _show(args, "usage", _call(args, "GET", "/usage", {"entity": args.entity, "source": args.source}))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError("erasure cannot be undone: add --yes")
    identifiers: dict[str, list[str]] = {}
    for given in args.identifier or []:
        kind, _, value = given.partition("=")
        if not value:
            raise CliError(f"--identifier {given!r}: write KIND=VALUE, e.g. email=li@example.com")
        identifiers.setdefault(kind, []).append(value)
    body: dict[str, Any] = {"confirm": True, **({"identifiers": identifiers} if identifiers else {})}
    while True:  # a large deployment's sweep spans requests: each resumes where the previous one stopped
        answer = _call(args, "POST", "/erase", {"entity": args.entity, "source": args.source}, body=body)
        if answer.get("complete", True):
            _print(answer)
            return 0
        scanned = sum(answer.get("scanned", {}).values())
        if answer.get("started_over"):
            print("records were applied to the customer meanwhile: every table is searched again", file=sys.stderr)
        print(f"erasing: {scanned} items searched, tables done: {', '.join(answer.get('swept') or []) or 'none yet'}", file=sys.stderr)


def cmd_identity(args: argparse.Namespace) -> int:
    """What identity made of an entity (members, keys, aliases), move a wrongly matched member out, or join two entities."""
    where = {"entity": args.entity, "source": args.source}
    if args.action == "show":
        _print(_call(args, "GET", "/identity", where))
        return 0
    if args.action == "merge":
        if not args.with_entity:
            raise CliError("merge needs --with <entity type>#<id>, the entity to fold together with this one")
        _print(_call(args, "POST", "/identity/merge", where, body={"with": args.with_entity}))
        return 0
    if not args.member:
        raise CliError("unmerge needs --member <system>/<entity type>/<source id>")
    _print(_call(args, "POST", "/identity/unmerge", where, body={"member": args.member}))
    return 0


def cmd_customer_link(args: argparse.Namespace) -> int:
    """A signed, expiring link to the customer's data-usage page (数据使用看板), to send them."""
    _print(_call(args, "POST", "/customer-links", {"entity": args.entity, "source": args.source}, body={"days": args.days}))
    return 0


def cmd_console_login(args: argparse.Namespace) -> int:
    """A one-time link that opens the console as you (your IAM identity on a deployed stage), valid five minutes."""
    _print(_call(args, "POST", "/login-links", {}, body={}))
    return 0


def _use_local_stack(args: argparse.Namespace) -> None:
    if getattr(args, "local", False):
        local = _local_env()
        if not local:
            raise CliError("no local stack found (.local-stack/env): start `make run` first")
        os.environ.update(local)


def cmd_dlq(args: argparse.Namespace) -> int:
    """Messages the processor gave up on (after 5 attempts) wait in each lane's dead-letter queue; bring them back."""
    from chalicelib.runtime import queue

    _use_local_stack(args)
    lanes = [lane for lane in queue.LANES if args.lane in (None, lane.name)]
    missing = [name for lane in lanes for name in (lane.dead_letter_env, lane.queue_env) if not os.environ.get(name)]
    if missing:
        raise CliError(f"{' and '.join(missing)} must be set (or use --local)")
    if args.action == "show":
        _print({"dead_letter_messages": [m for lane in lanes for m in _dead_letters(args, lane)]})
        return 0
    by_lane: dict[str, int] = {}
    for lane in lanes:
        dlq, lane_queue = os.environ[lane.dead_letter_env], os.environ[lane.queue_env]
        by_lane[lane.name] = queue.depth(dlq) if args.action == "count" else queue.redrive(dlq, lane_queue, args.limit)
    key = "dead_letter_messages" if args.action == "count" else "redriven"
    _print({key: sum(by_lane.values()), "by_lane": by_lane})
    return 0


def _dead_letters(args: argparse.Namespace, lane: Any) -> list[dict[str, Any]]:
    """Each waiting message with the input it carries and why it failed (its `dead_lettered` audit entry)."""
    from chalicelib.domain.inbound import InboundRecord
    from chalicelib.runtime import queue
    from chalicelib.store import keys

    shown = []
    for message_id, body in queue.peek(os.environ[lane.dead_letter_env], args.limit):
        try:
            inbound = InboundRecord.from_message(body)
            carried = {"connector": inbound.connector, "object": inbound.object, "entity": inbound.entity_hint}
            where = {"correlation": inbound.receipt_id} if inbound.receipt_id else {"entity": keys.dead_letter_chain(message_id)}
        except ValueError:
            carried, where = {"unreadable": body[:200]}, {"entity": keys.dead_letter_chain(message_id)}
        trail = _call(args, "GET", "/audit", where)
        entry = next((e for e in trail.get("entries", []) if e.get("action") == "dead_lettered"), None)
        why = entry["details"] if entry else {"error": "no dead_lettered entry: given up on before it was accounted (see the logs)"}
        shown.append({"lane": lane.name, "message_id": message_id, **carried, "attempts": why.get("attempts"), "error": why.get("error")})
    return shown


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Deliver again the events whose dispatch did not finish (after the stream gave up on them)."""
    result = _call(args, "POST", "/events/redrive", body={"limit": args.limit})
    _print(result)
    return 0 if not result.get("still_failing") and result.get("complete") else 1


def cmd_config_validate(args: argparse.Namespace) -> int:
    from chalicelib.configuration import load_configuration
    from chalicelib.errors import ConfigError

    try:
        config = load_configuration(Path(args.root).resolve())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(config.connectors)} connectors, {len(config.mappings.mappings)} mappings")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesbridge", description=__doc__)
    parser.add_argument("--url", help="salesbridge API (default $SALESBRIDGE_URL or http://127.0.0.1:8000)")
    parser.add_argument("--token", help="admin token of the local stack (default $SALESBRIDGE_TOKEN, or the running stack's)")
    parser.add_argument(
        "--auth",
        choices=["auto", "iam", "token"],
        help="iam: sign with your AWS credentials (deployed stages); token: the local stack's; auto (default): by address",
    )
    parser.add_argument("--actor", help="local stack: your name in the audit trail (deployed stages record your IAM identity)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of tables (for scripts)")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON instead of a table")
    paged = argparse.ArgumentParser(add_help=False)
    paged.add_argument("--next", help="the cursor a previous page ended with")
    sub = parser.add_subparsers(dest="command", required=True)

    def entity_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--entity", help="canonical entity key, e.g. customer#cus_…")
        p.add_argument("--source", help="<connector>/<entity type>/<source id>, e.g. demo_crm/customer/C-1001")

    p = sub.add_parser("audit", help="the audit trail of an entity or a correlation id", parents=[output, paged])
    entity_args(p)
    p.add_argument("--correlation")
    p.add_argument("--day", help="everything audited on this UTC day, e.g. 2026-11-25")
    p.add_argument("--from", dest="from_", help="with --day: from this time (ISO 8601, UTC)")
    p.add_argument("--to", help="with --day: up to this time")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("verify", help="check an entity's audit chain for tampering")
    entity_args(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("state", help="an entity's golden record", parents=[output])
    entity_args(p)
    p.set_defaults(func=cmd_state)

    p = sub.add_parser("events", help="events fired, newest first, with delivery status", parents=[output, paged])
    p.add_argument("--type")
    p.add_argument("--subject")
    p.add_argument("--since")
    p.add_argument("--status", choices=["pending", "delivered", "retrying", "dead"], help="e.g. dead: dead-lettered deliveries")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=cmd_events)

    p = sub.add_parser("quarantine", help="list, show, replay and discard quarantined records", parents=[output, paged])
    p.add_argument("action", choices=["list", "show", "replay", "discard"])
    p.add_argument("id", nargs="?")
    p.add_argument("--connector")
    p.add_argument("--code")
    p.add_argument("--mapping")
    p.add_argument("--status", default="open", help="list: open (the default), replayed or discarded")
    p.add_argument("--all", action="store_true", help="replay every open record")
    p.add_argument("--mapping-file", help="replay through this edited mapping file: a dry run first; applied once it is deployed")
    p.add_argument("--dry-run", action="store_true", help="show what the replay would do now; nothing is stored")
    p.add_argument("--reason", help="discard: why the record is given up for good (kept on it and in the audit trail)")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("consent", help="a customer's consent per data category: show, grant, revoke")
    p.add_argument("action", choices=["show", "grant", "revoke"])
    entity_args(p)
    p.add_argument("--category", help="contact_personal, inquiry, meeting_recording, trial_behaviour, commercial, location")
    p.add_argument("--purpose", help="why (kept in the audit trail)")
    p.set_defaults(func=cmd_consent)

    p = sub.add_parser("usage", help="how often a customer's data was used, for what, by which rule", parents=[output])
    entity_args(p)
    p.set_defaults(func=cmd_usage)

    p = sub.add_parser("erase", help="erase a customer: every stored copy that names it goes or is masked; a masked tombstone stays")
    entity_args(p)
    p.add_argument("--yes", action="store_true", help="confirm; erasure cannot be undone")
    p.add_argument(
        "--identifier",
        action="append",
        metavar="KIND=VALUE",
        help="also search for this email, phone, tax_id or name (e.g. one a consent revocation already removed); repeatable",
    )
    p.set_defaults(func=cmd_erase)

    p = sub.add_parser(
        "identity", help="an entity's members, match keys and aliases (show), undo a wrong match (unmerge), or join two (merge)"
    )
    p.add_argument("action", choices=["show", "unmerge", "merge"])
    entity_args(p)
    p.add_argument("--member", help="unmerge: the member source record to move out, e.g. demo_erp/customer/ERP-77")
    p.add_argument("--with", dest="with_entity", help="merge: the other entity, e.g. customer#cus_…; ambiguous records are replayed")
    p.set_defaults(func=cmd_identity)

    p = sub.add_parser("customer-link", help="a signed link to a customer's data-usage page, valid --days days")
    entity_args(p)
    p.add_argument("--days", type=int, default=7, help="how long the link works (1 to 90 days, default 7)")
    p.set_defaults(func=cmd_customer_link)

    p = sub.add_parser("console-login", help="a one-time link that opens the console as you (valid 5 minutes)")
    p.set_defaults(func=cmd_console_login)

    p = sub.add_parser("dry-run", help="what a payload would do on the running stack: record, state diff, events")
    p.add_argument("mapping", help="a deployed mapping's name (demo_crm_customer) or an edited mapping file")
    p.add_argument("payload", help="a JSON file with the source payload, or - for standard input")
    p.set_defaults(func=cmd_dry_run)

    p = sub.add_parser("regression", help="run recent inputs through the deployed and an edited mapping; show what changes")
    p.add_argument("file", help="the edited mapping file")
    p.add_argument("--mapping", help="the deployed mapping's name (default: the file's name)")
    p.add_argument("--limit", type=int, default=200, help="how many recent inputs (default 200)")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when anything would change (for CI)")
    p.set_defaults(func=cmd_regression)

    p = sub.add_parser("backfill", help="initial load of a connector stream into the queue, with progress; resumable")
    p.add_argument("connector")
    p.add_argument("stream")
    p.add_argument("--local", action="store_true", help="use the stack started by `make run`")
    p.add_argument("--root", default=str(ROOT))
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser(
        "dlq", help="the dead-letter queues of the webhook and bulk lanes: count their messages, show why each failed, or redrive them"
    )
    p.add_argument("action", choices=["count", "show", "redrive"])
    p.add_argument("--lane", choices=["webhook", "bulk"], help="only this lane (default: both)")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--local", action="store_true", help="use the stack started by `make run`")
    p.set_defaults(func=cmd_dlq)

    p = sub.add_parser("dispatch", help="re-drive: deliver again the events whose delivery did not finish")
    p.add_argument("action", choices=["redrive"])
    p.add_argument("--limit", type=int, default=100, help="at most this many events in one call (default 100)")
    p.set_defaults(func=cmd_dispatch)

    p = sub.add_parser("config", help="check every connector and mapping file in this checkout")
    p.add_argument("action", choices=["validate"])
    p.add_argument("--root", default=str(ROOT))
    p.set_defaults(func=cmd_config_validate)

    from cli.dictionary import register as register_dictionary
    from cli.mappings import register
    from cli.rules import register as register_rules
    from cli.send import register as register_send

    register(sub)
    register_send(sub, ROOT)
    register_rules(sub)
    register_dictionary(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"salesbridge: {exc}", file=sys.stderr)
        return 2

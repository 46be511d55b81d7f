"""`salesbridge rules validate | test` and `salesbridge actions try | redrive` — the analyst's loop for rules.

    salesbridge rules validate                      every problem of every file, file:line:column
    salesbridge rules test [files] [-v]             run the examples of the rules and actions
    salesbridge actions try NAME EVENT_JSON         the request an action would send for an event
    salesbridge actions redrive EVENT_ID NAME       send a dead action again (the running stack)

The configuration is the whole checkout (connectors/ and mappings/, rules under mappings/rules/),
so a rule's connectors and calendars are checked with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.examples_report import ExamplesReport

ROOT = Path(__file__).resolve().parent.parent


def register(subparsers: Any) -> None:
    rules = subparsers.add_parser("rules", help="validate and test the rules (deadlines, windows, stage gates) and actions")
    commands = rules.add_subparsers(dest="rules_command", required=True)
    validate = commands.add_parser("validate", help="check every rules file; every problem with file:line:column")
    validate.add_argument("--root", default=str(ROOT))
    validate.set_defaults(func=cmd_validate)
    test = commands.add_parser("test", help="run the examples: records in, the events the rule fires out")
    test.add_argument("paths", nargs="*", help="only the examples of these files (default: all)")
    test.add_argument("--root", default=str(ROOT))
    test.add_argument("-v", "--verbose", action="store_true", help="list passing examples and what they fired")
    test.set_defaults(func=cmd_test)

    actions = subparsers.add_parser("actions", help="see the request an action sends; re-drive a dead one")
    commands = actions.add_subparsers(dest="actions_command", required=True)
    try_ = commands.add_parser("try", help="the request an action would send for an event (nothing is sent)")
    try_.add_argument("name", help="the action's name")
    try_.add_argument("event", help="a JSON file with the event (CloudEvent), or - for standard input")
    try_.add_argument("--subject", help="a JSON file with the subject's fields (owner, source_ids, ...)")
    try_.add_argument("--root", default=str(ROOT))
    try_.set_defaults(func=cmd_try)
    redrive = commands.add_parser("redrive", help="send a dead action again (on the running stack)")
    redrive.add_argument("event_id")
    redrive.add_argument("name", help="the action's name")
    redrive.set_defaults(func=cmd_redrive)


def _load(root: str) -> Any:
    from chalicelib.configuration import load_configuration
    from chalicelib.errors import ConfigError

    try:
        return load_configuration(Path(root).resolve())
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args.root)
    if config is None:
        return 1
    for rule in config.rules.rules:
        print(f"ok  {rule.origin}  rule {rule.name} ({type(rule).__name__.removesuffix('Rule').lower()}) fires {rule.fire}")
    for action in config.rules.actions:
        print(f"ok  {action.origin}  action {action.name}: {action.kind} {action.operation} {action.target} on {', '.join(action.types)}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from chalicelib.api.mappings import api_versions
    from chalicelib.pipeline.rule_examples import run_examples

    config = _load(args.root)
    if config is None:
        return 1
    versions = api_versions(config)
    wanted = {Path(p).resolve() for p in args.paths}
    report = ExamplesReport(args.verbose)
    for result in run_examples(config.rules, config.triggers, versions):
        file = Path(config.root / result.origin.rsplit(":", 1)[0]).resolve()
        if wanted and file not in wanted:
            continue
        fired = [json.dumps(f, ensure_ascii=False, default=str) for f in result.fired]
        report.add(result.passed, f"{result.origin} {result.owner}: {result.example}", fired if result.passed else result.differences)
    return report.finish()


def _read_json(source: str) -> Any:
    from decimal import Decimal

    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal)


def cmd_try(args: argparse.Namespace) -> int:
    from chalicelib.errors import DeliveryFailed

    config = _load(args.root)
    if config is None:
        return 1
    action = next((a for a in config.rules.actions if a.name == args.name), None)
    if action is None:
        print(f"no action named {args.name!r}; declared: {', '.join(a.name for a in config.rules.actions) or 'none'}", file=sys.stderr)
        return 1
    event = _read_json(args.event)
    subject = _read_json(args.subject) if args.subject else {}
    connector = config.connectors.get(action.connector or "")
    version = connector.api.api.api_version if connector is not None and connector.api is not None else None
    try:
        request = action.render({"data": {}, **event}, subject, version)
    except DeliveryFailed as exc:
        print(f"the request cannot be built: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(request.view(), indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from cli.main import _call, _print

    _print(_call(args, "POST", "/actions/redrive", body={"event": args.event_id, "action": args.name}))
    return 0

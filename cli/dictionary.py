"""`salesbridge dictionary show`: the master-data dictionary of the configuration in this checkout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def register(sub: Any) -> None:
    p = sub.add_parser("dictionary", help="the canonical model: each field's owner, category, the mappings that fill it, code lists")
    p.add_argument("action", choices=["show"])
    p.add_argument("--entity", help="only this entity (customer, product, order, pos_sale, rebate_settlement)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--root", default=str(ROOT), help="the configuration root (with connectors/ and mappings/)")
    p.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    from chalicelib.api.dictionary import build, render_text
    from chalicelib.configuration import load_configuration
    from chalicelib.domain.canonical import ENTITY_TYPES
    from chalicelib.errors import ConfigError

    if args.entity and args.entity not in ENTITY_TYPES:
        print(f"salesbridge: unknown entity {args.entity!r}; one of: {', '.join(ENTITY_TYPES)}", file=sys.stderr)
        return 2
    try:
        config = load_configuration(Path(args.root).resolve())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s): fix them first (salesbridge config validate)", file=sys.stderr)
        return 1
    dictionary = build(config)
    if args.json:
        data = dictionary.as_json()
        if args.entity:
            data["entities"] = [e for e in data["entities"] if e["name"] == args.entity]
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(render_text(dictionary, args.entity), end="")
    return 0

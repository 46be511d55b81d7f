"""`salesbridge mappings validate | test | try` — the integrator's feedback loop.

    salesbridge mappings validate [paths]          every problem in every file, file:line:column
    salesbridge mappings test [paths]              run the examples embedded in the files
    salesbridge mappings try FILE PAYLOAD_JSON     print the canonical record for one payload

Paths are mapping files or folders (default: mappings/). When only some files are
given, the grade scale next to them is loaded too.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.errors import ConfigError
from chalicelib.mapping.compiler import CompiledMapping, MappingSet, compile_documents, load_documents, yaml_files
from chalicelib.mapping.examples import map_payload, run_example
from cli.examples_report import ExamplesReport

DEFAULT_FOLDER = "mappings"


def register(subparsers: Any) -> None:
    """Add the `mappings` command group to the project CLI."""
    parser = subparsers.add_parser("mappings", help="validate, test and try mapping files")
    commands = parser.add_subparsers(dest="mappings_command", required=True)

    validate = commands.add_parser("validate", help="check mapping files; every problem with file:line:column")
    validate.add_argument("paths", nargs="*", default=[DEFAULT_FOLDER], help="files or folders (default: mappings/)")
    validate.set_defaults(func=cmd_validate)

    test = commands.add_parser("test", help="run the examples embedded in mapping files")
    test.add_argument("paths", nargs="*", default=[DEFAULT_FOLDER], help="files or folders (default: mappings/)")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing examples too")
    test.set_defaults(func=cmd_test)

    try_ = commands.add_parser("try", help="map one payload and print the canonical record as JSON")
    try_.add_argument("file", help="the mapping file")
    try_.add_argument("payload", help="a JSON file with the source payload, or - for standard input")
    try_.set_defaults(func=cmd_try)


def load_for(paths: list[str]) -> tuple[MappingSet, set[str]]:
    """The mapping set for the given files/folders, and the display names of the files asked for."""
    files = yaml_files(paths)
    asked = {str(path) for path in files}
    extra = [path.parent / "grade_scale.yaml" for path in files if not path.is_dir()]
    extra += yaml_files({path.parent / "code_lists" for path in files if (path.parent / "code_lists").is_dir()})  # shared code lists
    for path in extra:
        if path.exists() and path not in files:
            files.append(path)
    documents, problems = load_documents(files)
    try:
        mapping_set = compile_documents(documents)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return mapping_set, {Path(p).resolve().as_posix() for p in asked}


def _selected(mapping_set: MappingSet, asked: set[str]) -> list[CompiledMapping]:
    chosen = [m for m in mapping_set.mappings.values() if Path(m.file).resolve().as_posix() in asked]
    return sorted(chosen, key=lambda m: m.file)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        mapping_set, asked = load_for(args.paths)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    for mapping in _selected(mapping_set, asked):
        print(f"ok  {mapping.file}  {mapping.connector} {mapping.object} → {mapping.entity}  version {mapping.version}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    try:
        mapping_set, asked = load_for(args.paths)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    report = ExamplesReport(args.verbose)
    for mapping in _selected(mapping_set, asked):
        for example in mapping.examples:
            result = run_example(mapping, example)
            report.add(result.passed, f"{mapping.file}: {example.name}", () if result.passed else result.differences)
    return report.finish()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def read_payload(source: str) -> Any:
    """A payload as the pipeline sees it: JSON numbers with a fraction become Decimal."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal)


def cmd_try(args: argparse.Namespace) -> int:
    try:
        mapping_set, asked = load_for([args.file])
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    chosen = _selected(mapping_set, asked)
    if not chosen:
        print(f"{args.file} holds no `kind: mapping` document", file=sys.stderr)
        return 1
    try:
        payload = read_payload(args.payload)
    except (OSError, ValueError) as exc:
        print(f"cannot read the payload {args.payload}: {exc}", file=sys.stderr)
        return 1
    result = map_payload(chosen[0], payload)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=_json_default))
    return 1 if "error" in result else 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m cli.mappings validate``."""
    parser = argparse.ArgumentParser(prog="salesbridge")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mappings", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""The JSON Schema of mapping files, generated from the spec models.

.venv/bin/python -m chalicelib.mapping.schema          # rewrite schemas/mapping.schema.json
.venv/bin/python -m chalicelib.mapping.schema --check  # exit 1 when the file is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chalicelib.mapping.spec import mapping_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "mapping.schema.json"


def schema_text() -> str:
    return json.dumps(mapping_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = schema_text()
    if "--check" in argv:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE} is out of date: run python -m chalicelib.mapping.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

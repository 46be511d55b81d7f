"""``make package``: the deployment package and the stack's template, linted.

Runs ``chalice package`` once, finishes its ``sam.json`` into the whole stack
(infra/template.py) for a stage, and lints the result with cfn-lint, informational
checks included. ``python -m infra.package out [--stage staging]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.template import build as build_template

ROOT = Path(__file__).resolve().parent.parent

# cfn-lint checks switched off, each with its reason. None so far: every rule, informational ones
# included, passes on the generated template; add a rule here only with the reason beside it.
LINT_IGNORED: dict[str, str] = {}


def chalice_package(out: Path) -> None:
    exe = Path(sys.executable).parent / "chalice"
    subprocess.run([str(exe), "package", "--stage", "prod", str(out)], cwd=ROOT, check=True)


def lint(template: Path) -> None:
    exe = Path(sys.executable).parent / "cfn-lint"
    command = [str(exe), "--include-checks", "I"]
    for rule in sorted(LINT_IGNORED):
        command += ["--ignore-checks", rule]
    subprocess.run([*command, "--", str(template)], check=True)


def build(out: Path, lint_template: bool = True, stage: str = "prod") -> Path:
    """Write ``out/deployment.zip`` and ``out/sam.json`` (the finished template for ``stage``).

    Chalice's own template is kept as ``out/chalice-sam.json``: ``python -m infra.template
    out/chalice-sam.json staging`` makes another stage's template without packaging again.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        chalice_package(Path(tmp))
        sam = json.loads((Path(tmp) / "sam.json").read_text())
        shutil.copy(Path(tmp) / "deployment.zip", out / "deployment.zip")
    (out / "chalice-sam.json").write_text(json.dumps(sam, indent=2) + "\n")
    (out / "sam.json").write_text(json.dumps(build_template(sam, stage), indent=2) + "\n")
    if lint_template:
        lint(out / "sam.json")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="out")
    parser.add_argument("--stage", default="prod", help="the Stage parameter's default in the template (default prod)")
    args = parser.parse_args(argv)
    target = build(Path(args.out).resolve(), stage=args.stage)
    print(f"deployment package and template in {target}/ (deploy: see the README's Deploy section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

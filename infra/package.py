"""``make package``: build the deployment package and a CloudFormation template that passes cfn-lint.

Runs ``chalice package`` once to learn the functions it generates, writes the merge
template for them (infra/template.py), packages again with it, then lints.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.template import merge_template

ROOT = Path(__file__).resolve().parent.parent


def chalice(*args: str) -> None:
    exe = Path(sys.executable).parent / "chalice"
    subprocess.run([str(exe), "package", "--stage", "prod", *args], cwd=ROOT, check=True)


def build(out: Path, lint: bool = True) -> Path:
    with tempfile.TemporaryDirectory() as first:
        chalice(first)
        sam = json.loads((Path(first) / "sam.json").read_text())
    functions = [n for n, r in sam["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    merge = out.parent / f"{out.name}.merge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    merge.write_text(json.dumps(merge_template(functions), indent=2))
    chalice("--merge-template", str(merge), str(out))
    merge.unlink()
    if lint:
        subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out / "sam.json")], check=True)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "out").resolve()
    build(target)
    print(f"deployment package and template in {target}/ (deploy: aws cloudformation package/deploy, see README)")

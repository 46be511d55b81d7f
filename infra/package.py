"""``make package``: build the deployment package and a CloudFormation template that passes cfn-lint.

Runs ``chalice package`` once to learn the functions it generates, writes the merge
template for them (infra/template.py), packages again with it, lints, then finishes the
zip for a fast cold start (``finish_package``):

- **Compiled bytecode.** Lambda's ``/var/task`` is read-only, so a package without ``.pyc``
  files compiles every module it imports on every cold start. Each ``.py`` gets its
  ``__pycache__/<name>.cpython-3XY.pyc`` for the Python running this build, which is the
  runtime ``chalice package`` declares (``python3.XY``). The files are *unchecked-hash*
  pycs: the package never changes once built, and zip extraction does not keep the
  modification times a timestamp pyc is checked against.
- **boto3 and botocore stay in the package**, pinned by requirements.txt, though the Lambda
  runtime ships its own: the runtime's copy is often months older and changes when AWS
  updates the runtime, so the code would run against an SDK no test ran against. AWS
  advises bundling the SDK for the same reason. What the package leaves out is botocore's
  API models of the services salesbridge never calls (about 440 of 450, 16 MB zipped):
  ``kept_services`` lists the services the code names in ``aws.client("...")``, plus
  X-Ray's (the tracing SDK's sampling client) and STS (credential providers).
- **x86_64**, Chalice's default. arm64 Lambda costs about 20 % less per GB-second, but this
  project cannot measure an arm64 cold start on its build machines (x86 only); the choice
  stays open until it is measured on arm64 itself.
"""

from __future__ import annotations

import compileall
import json
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra.template import merge_template

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_KEPT_SERVICES = frozenset({"xray", "sts"})
_CLIENT_CALL = re.compile(r"""\bclient\(\s*["']([a-z0-9-]+)["']""")


def chalice(*args: str, quiet: bool = False) -> None:
    exe = Path(sys.executable).parent / "chalice"
    subprocess.run([str(exe), "package", "--stage", "prod", *args], cwd=ROOT, check=True, capture_output=quiet)


def build(out: Path, lint: bool = True, quiet: bool = False) -> Path:
    with tempfile.TemporaryDirectory() as first:
        chalice(first, quiet=quiet)
        sam = json.loads((Path(first) / "sam.json").read_text())
    functions = [n for n, r in sam["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    merge = out.parent / f"{out.name}.merge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    merge.write_text(json.dumps(merge_template(functions), indent=2))
    chalice("--merge-template", str(merge), str(out), quiet=quiet)
    merge.unlink()
    finish_package(out / "deployment.zip", kept_services(ROOT))
    if lint:
        subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out / "sam.json")], check=True)
    return out


def kept_services(project: Path) -> frozenset[str]:
    """The AWS services whose botocore models the package keeps: those the code creates clients for."""
    sources = [project / "app.py", *sorted((project / "chalicelib").rglob("*.py"))]
    named = {name for path in sources if path.is_file() for name in _CLIENT_CALL.findall(path.read_text(encoding="utf-8"))}
    return frozenset(named) | ALWAYS_KEPT_SERVICES


def finish_package(zip_path: Path, services: frozenset[str]) -> None:
    """Rewrite the zip: without the unused botocore models, with bytecode for every module."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "package"
        with zipfile.ZipFile(zip_path) as archive:
            modes = {info.filename: info.external_attr for info in archive.infolist()}
            archive.extractall(tree)
        models = tree / "botocore" / "data"
        if models.is_dir():
            for service in models.iterdir():
                if service.is_dir() and service.name not in services:
                    shutil.rmtree(service)
        compileall.compile_dir(tree, quiet=2, legacy=False, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=1)
        _write_zip(zip_path, tree, modes)


def _write_zip(zip_path: Path, tree: Path, modes: dict[str, int]) -> None:
    """A deterministic zip (sorted names, Chalice's fixed 1980 timestamps), keeping each file's mode."""
    default_mode = 0o100644 << 16
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            name = path.relative_to(tree).as_posix()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = modes.get(name, default_mode)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "out").resolve()
    build(target)
    print(f"deployment package and template in {target}/ (deploy: aws cloudformation package/deploy, see README)")

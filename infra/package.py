"""``make package``: the deployment package and the stack's template, linted.

Runs ``chalice package`` once, finishes its ``sam.json`` into the whole stack
(infra/template.py) for a stage, and lints the result with cfn-lint, informational
checks included. ``python -m infra.package out [--stage staging]``.

Then it finishes the zip for a fast cold start (``finish_package``):

- **Compiled bytecode.** Lambda's ``/var/task`` is read-only, so a package without ``.pyc``
  files compiles every module it imports on every cold start. Each ``.py`` gets its
  ``__pycache__/<name>.cpython-3XY.pyc`` for the Python running this build, which is the
  runtime ``chalice package`` declares (``python3.XY``), and nothing else: bytecode that came
  with the sources (a checkout's ``__pycache__``) is dropped first. The files are *unchecked-hash*
  pycs: the package never changes once built, and zip extraction does not keep the
  modification times a timestamp pyc is checked against.
- **boto3 and botocore stay in the package**, pinned by requirements.txt, though the Lambda
  runtime ships its own: the runtime's copy is often months older and changes when AWS
  updates the runtime, so the code would run against an SDK no test ran against. AWS
  advises bundling the SDK for the same reason. What the package leaves out is botocore's
  API models of the services salesbridge never calls (about 440 of 450, 16 MB zipped):
  ``kept_services`` lists the services the code names in ``aws.client("...")``, plus
  X-Ray's (the tracing SDK's sampling client) and STS (credential providers).
- **The configuration checked and parsed in advance.** A configuration that does not load is
  refused here, every problem by file and line (``PackageRefused``), before anything is deployed.
  connectors/ and mappings/ are then parsed once and written beside them with the fact that they
  load (chalicelib/config/parsed_cache.py), so a cold start imports no YAML parser and parses no
  file, and the door reads only the connector files (chalicelib/ingress/door.py); a file
  whose bytes differ from what was checked is parsed and checked as before.
- **x86_64**, Chalice's default. arm64 Lambda costs about 20 % less per GB-second, but this
  project cannot measure an arm64 cold start on its build machines (x86 only); the choice
  stays open until it is measured on arm64 itself.
"""

from __future__ import annotations

import argparse
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

from chalicelib.config import parsed_cache
from infra.template import build as build_template

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_KEPT_SERVICES = frozenset({"xray", "sts"})
_CLIENT_CALL = re.compile(r"""\bclient\(\s*["']([a-z0-9-]+)["']""")

# cfn-lint checks switched off, each with its reason. None so far: every rule, informational ones
# included, passes on the generated template; add a rule here only with the reason beside it.
LINT_IGNORED: dict[str, str] = {}


def chalice_package(out: Path, quiet: bool = False) -> None:
    exe = Path(sys.executable).parent / "chalice"
    subprocess.run([str(exe), "package", "--stage", "prod", str(out)], cwd=ROOT, check=True, capture_output=quiet)


def lint(template: Path) -> None:
    exe = Path(sys.executable).parent / "cfn-lint"
    command = [str(exe), "--include-checks", "I"]
    for rule in sorted(LINT_IGNORED):
        command += ["--ignore-checks", rule]
    subprocess.run([*command, "--", str(template)], check=True)


def build(out: Path, lint_template: bool = True, stage: str = "prod", quiet: bool = False) -> Path:
    """Write ``out/deployment.zip`` and ``out/sam.json`` (the finished template for ``stage``).

    Chalice's own template is kept as ``out/chalice-sam.json``: ``python -m infra.template
    out/chalice-sam.json staging`` makes another stage's template without packaging again.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        chalice_package(Path(tmp), quiet=quiet)
        sam = json.loads((Path(tmp) / "sam.json").read_text())
        shutil.copy(Path(tmp) / "deployment.zip", out / "deployment.zip")
    finish_package(out / "deployment.zip", kept_services(ROOT))
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
    try:
        target = build(Path(args.out).resolve(), stage=args.stage)
    except PackageRefused as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"deployment package and template in {target}/ (deploy: see the README's Deploy section)")
    return 0


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
        for cache in sorted(tree.rglob("__pycache__"), reverse=True):  # a checkout's own bytecode, of modules since renamed too
            shutil.rmtree(cache)
        compileall.compile_dir(tree, quiet=2, legacy=False, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=1)
        if any((tree / folder).is_dir() for folder in parsed_cache.FOLDERS):
            check_configuration(tree)
            parsed_cache.write(tree, checked=True)
        _write_zip(zip_path, tree, modes)


class PackageRefused(Exception):
    """The package would not work once deployed; the message says why."""


def check_configuration(tree: Path) -> None:
    """Load the whole configuration the package carries, as every function does; refuse it with every problem."""
    from chalicelib.configuration import load_configuration
    from chalicelib.errors import ConfigError

    try:
        load_configuration(tree)
    except ConfigError as exc:
        raise PackageRefused(f"the configuration does not load, so no package was made; fix these first:\n{exc}") from None


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
    sys.exit(main())

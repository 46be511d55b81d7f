"""The layering of chalicelib/ (docs/architecture.md), checked on every import, lazy ones included.

A module may import modules of its own layer or of a lower one, never of a higher one;
within a layer, packages depend on each other without cycles. Imports under
``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module belongs to the most specific prefix listed.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("chalicelib.errors", "chalicelib.config", "chalicelib.domain")),
    ("runtime", ("chalicelib.runtime",)),
    (
        "features",
        (
            "chalicelib.mapping",
            "chalicelib.masterdata",
            "chalicelib.triggers",
            "chalicelib.connectors",
            "chalicelib.ingress",
            "chalicelib.dispatch",
            "chalicelib.sync",
            "chalicelib.rules",
        ),
    ),
    ("storage", ("chalicelib.store",)),
    ("composition", ("chalicelib.configuration",)),
    (
        "services",
        (
            "chalicelib.pipeline",
            "chalicelib.ingress.door",
            "chalicelib.dispatch.deliver",
            "chalicelib.sync.scheduler",
            "chalicelib.sync.backfill",
            "chalicelib.sync.sink",
        ),
    ),
    ("operator surface", ("chalicelib.api", "chalicelib.console")),
]
OUTSIDE = ("app", "cli", "local", "infra", "tests", "benchmarks", "moto")


def layer_of(module: str) -> int:
    best, rank = "", -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    return rank


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(node.lineno, alias.name) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                path = ROOT / candidate.replace(".", "/")
                self.found.append((node.lineno, candidate if path.with_suffix(".py").exists() or path.is_dir() else node.module))


def module_imports() -> dict[str, list[tuple[int, str]]]:
    graph = {}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[module] = visitor.found
    return graph


def test_every_module_has_a_layer():
    assert [m for m in module_imports() if m != "chalicelib" and layer_of(m) < 0] == []


def test_no_import_points_up_a_layer_or_out_of_the_package():
    wrong = []
    for module, imports in module_imports().items():
        for line, target in imports:
            if target.split(".")[0] in OUTSIDE:
                wrong.append(f"{module}:{line} imports {target} (outside the Lambda package)")
            elif target.startswith("chalicelib.") and layer_of(target) > layer_of(module):
                wrong.append(
                    f"{module}:{line} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]}), a higher layer"
                )
    assert wrong == []


def test_packages_of_one_layer_depend_on_each_other_without_cycles():
    edges: dict[str, set[str]] = {}
    for module, imports in module_imports().items():
        for _, target in imports:
            if target.startswith("chalicelib.") and layer_of(target) == layer_of(module) and package_of(target) != package_of(module):
                edges.setdefault(package_of(module), set()).add(package_of(target))
    cycles = []
    for start in edges:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*path, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []


def test_the_storage_layout_has_one_home():
    """Key prefixes are spelled in store/keys.py only; only store/ talks to DynamoDB."""
    prefixes = (
        "dedupe#",
        "input#",
        "xref#",
        "rebate#",
        "watermark#",
        "syncrun#",
        "ratebudget#",
        "consent#",
        "event#",
        "rejection#",
        "console#",
    )
    spelled, clients = [], []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and relative != "chalicelib/store/keys.py":
                spelled += [f"{relative}:{node.lineno} {p}" for p in prefixes if p in node.value and not _docstring(tree, node)]
            called = node.func.attr if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
            if called == "client" and isinstance(node, ast.Call) and node.args and getattr(node.args[0], "value", None) == "dynamodb":
                if not relative.startswith("chalicelib/store/"):
                    clients.append(f"{relative}:{node.lineno}")
    assert spelled == [] and clients == []


def _docstring(tree: ast.Module, node: ast.Constant) -> bool:
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and body[0].value is node:
            return True
    return False

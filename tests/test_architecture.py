"""The layers of the house: every module-level import goes down (or stays inside its own package),
and no modules import each other in a circle. Imports inside functions are the deliberate lazy
ones (torch, or an edit kind reaching its method, eval and bench code when called) and are not
edges of the import-time graph."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sdedit_desktop"

# Top-level packages and modules of sdedit_desktop, bottom layer first.
LAYERS = [
    {"<root>", "core", "textsafe", "resources"},
    {"fileopen"},
    {"filesave", "diffusion"},
    {"imaging", "models"},
    {"edits"},
    {"eval", "project", "bench"},
    {"engine"},
    {"ui", "cli", "gui", "selftest"},
    {"__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _top_level_imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The sdedit_desktop modules `path` imports when it is imported (not inside functions,
    classes or `if TYPE_CHECKING:`)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(target: str) -> str | None:
        parts = target.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or None

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = node.test
                if getattr(test, "id", None) == "TYPE_CHECKING" or \
                        getattr(test, "attr", None) == "TYPE_CHECKING":
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                subs = [f"{base}.{a.name}" for a in node.names]
                known = [s for s in subs if s in modules]
                found.update(known)
                if len(known) < len(subs):
                    found.add(base)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    edges = {resolve(t) for t in found if t.startswith("sdedit_desktop")}
    return {e for e in edges if e and e != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _top_level_imports(path, name, modules) for name, path in modules.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def test_every_package_has_a_layer():
    tops = {_top(m) for m in _modules()}
    assert tops <= set(LAYER), f"place these in LAYERS: {sorted(tops - set(LAYER))}"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if _top(a) != _top(b) and LAYER[_top(b)] >= LAYER[_top(a)])


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return found


def test_imports_only_go_down():
    assert upward_imports(_graph()) == []


def test_no_import_circle():
    assert circles(_graph()) == []


def test_the_checks_find_a_planted_circle_and_upward_import():
    graph = {"sdedit_desktop.edits.a": {"sdedit_desktop.ui.b"},
             "sdedit_desktop.ui.b": {"sdedit_desktop.edits.a"},
             "sdedit_desktop.core.c": set()}
    assert upward_imports(graph) == ["sdedit_desktop.edits.a -> sdedit_desktop.ui.b"]
    assert circles(graph) == [["sdedit_desktop.edits.a", "sdedit_desktop.ui.b"]]

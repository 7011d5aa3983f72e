"""The shape of the house, read from the source (AST), in the spirit of datasette's
meta-tests: what imports what, how long a module is, whether modules import each other
in a circle.

- core (``vlmr1``, folder core/) imports no ``vlmr1.plugins*`` and no ``vlmr1.trainers*``,
  at any depth: a function-level import counts as much as a module-level one;
- a plugin imports no sibling plugin and no trainer (only vlmr1's public modules);
- a trainer imports no plugin (it learns what plugins offer through the registry);
- no module is over 400 lines, no function over 60;
- no circle of module-level imports (imports inside functions or under
  ``if TYPE_CHECKING:`` do not run at import time and are left out of this one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"core": "vlmr1", "plugins": "vlmr1.plugins", "trainers": "vlmr1.trainers"}
MAX_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package)
    line: int
    top_level: bool  # runs when the importing module is imported


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [FOLDERS[rel.parts[0]], *rel.parts[1:]]
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out[_module_name(path)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(body: list[ast.stmt], top: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement with whether it runs at import time (module level, not under
    ``if TYPE_CHECKING:``, not inside a function or class body's functions)."""
    for node in body:
        yield node, top
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner_top = False
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.body, False)
            yield from _walk(node.orelse, top)
            continue
        else:
            inner_top = top
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stmts = [c for c in children if isinstance(c, ast.stmt)]
                stmts += [s for h in children if isinstance(h, ast.ExceptHandler) for s in h.body]
                yield from _walk(stmts, inner_top)


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str, path: Path) -> list[Import]:
    out = []
    for node, top in _walk(ast.parse(path.read_text()).body, True):
        if isinstance(node, ast.Import):
            out += [Import(module, alias.name, node.lineno, top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node)
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                out.append(Import(module, sub if sub in MODULES else base, node.lineno, top))
    return out


ALL_IMPORTS = [imp for name, path in MODULES.items() for imp in imports_of(name, path)]


def _layer(module: str) -> tuple[str, str | None]:
    """("plugin", name), ("trainer", None), ("core", None) or ("other", None)."""
    if module.startswith("vlmr1.plugins."):
        return "plugin", module.split(".")[2]
    if module == "vlmr1.plugins":
        return "plugin", None
    if module == "vlmr1.trainers" or module.startswith("vlmr1.trainers."):
        return "trainer", None
    if module == "vlmr1" or module.startswith("vlmr1."):
        return "core", None
    return "other", None


def _why_not(imp: Import) -> str | None:
    (src, src_plugin), (dst, dst_plugin) = _layer(imp.source), _layer(imp.target)
    if src == "core" and dst in ("plugin", "trainer"):
        return "core imports a plugin or a trainer"
    if src == "plugin" and dst == "plugin" and dst_plugin not in (None, src_plugin):
        return f"plugin {src_plugin!r} imports the plugin {dst_plugin!r}"
    if src == "plugin" and dst == "trainer":
        return f"plugin {src_plugin!r} imports a trainer"
    if src == "trainer" and dst == "plugin":
        return "a trainer imports a plugin"
    return None


def layering_violations() -> list[str]:
    return [f"{MODULES[i.source].relative_to(ROOT)}:{i.line}: {i.source} imports {i.target}: {_why_not(i)}"
            for i in ALL_IMPORTS if _why_not(i)]


def import_graph(imports: list[Import], modules: set[str]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports at import time."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for i in imports:
        if i.top_level and i.target in modules:
            graph[i.source].add(i.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups (more than one module, or one importing itself) of an
    import graph (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# -- the rules --------------------------------------------------------------------------------
def test_the_walk_sees_the_whole_house():
    assert {"vlmr1", "vlmr1.engine", "vlmr1.cli", "vlmr1.plugins.iou.reward", "vlmr1.trainers.grpo"} <= set(MODULES)
    targets = {i.target for i in ALL_IMPORTS}
    assert {"vlmr1.types", "vlmr1.answers", "pluggy"} <= targets
    # function-level imports are seen (the engine imports the registry inside __init__)
    assert any(i.source == "vlmr1.engine" and i.target == "vlmr1.registry" and not i.top_level for i in ALL_IMPORTS)


def test_core_imports_no_plugin_and_no_trainer_and_plugins_import_no_sibling():
    assert layering_violations() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_400_lines(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {lines} lines; split it by concern"


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than ``limit`` lines, decorators left out."""
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def test_no_function_is_over_60_lines():
    found = {str(path.relative_to(ROOT)): long for path in MODULES.values() if (long := long_functions(path.read_text()))}
    assert found == {}, f"split these by step: {found}"


def test_a_long_function_is_found():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n\ndef g():\n    return 1\n") == [("f", 62)]
    assert long_functions("class C:\n    def m(self):\n" + body.replace("    ", "        ") + "\n") == [("m", 62)]


def test_no_circle_of_module_level_imports():
    assert cycles(import_graph(ALL_IMPORTS, set(MODULES))) == []


# -- the rules catch what they are for (a checker that cannot fail proves nothing) -------------
@pytest.mark.parametrize("module, source, expected", [
    ("vlmr1.report", "def f():\n    from vlmr1.plugins.iou import parse\n", "core imports a plugin or a trainer"),
    ("vlmr1.cli.x", "from ..trainers import grpo\n", "core imports a plugin or a trainer"),
    ("vlmr1.plugins.json.rewards", "from vlmr1.plugins.math import choice\n", "plugin 'json' imports the plugin 'math'"),
    ("vlmr1.plugins.json.rewards", "from ..math.choice import letters\n", "plugin 'json' imports the plugin 'math'"),
    ("vlmr1.plugins.json.rewards", "import vlmr1.trainers.tiny\n", "plugin 'json' imports a trainer"),
    ("vlmr1.trainers.tiny", "if True:\n    from vlmr1.plugins.json import templates\n", "a trainer imports a plugin"),
])
def test_each_kind_of_violation_is_caught(tmp_path, module, source, expected):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "m.py"
    path.write_text(source)
    found = [_why_not(i) for i in imports_of(module, path)]
    assert expected in found


def test_a_circle_is_found_and_a_function_level_import_does_not_make_one():
    imports = [Import("a", "b", 1, True), Import("b", "c", 1, True), Import("c", "a", 1, True),
               Import("d", "e", 1, True), Import("e", "d", 1, False), Import("f", "f", 1, True)]
    assert cycles(import_graph(imports, set("abcdef"))) == [["a", "b", "c"], ["f"]]


def test_type_checking_and_function_imports_are_not_import_time(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from typing import TYPE_CHECKING\nimport a\nif TYPE_CHECKING:\n    import b\n"
                    "def f():\n    import c\ntry:\n    import d\nexcept ImportError:\n    import e\n")
    got = {i.target: i.top_level for i in imports_of("vlmr1.m", path)}
    assert got == {"typing": True, "a": True, "b": False, "c": False, "d": True, "e": True}

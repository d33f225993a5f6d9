"""The dependency direction of DESIGN.md, checked two ways.

1. Statically: every ``import phantomlab.X`` in a subpackage names an allowed layer.
2. Dynamically: importing a subpackage in a fresh interpreter loads no forbidden layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "phantomlab"
CORE = {
    "_units",
    "_validation",
    "_rng",
    "_params",
    "_result",
    "_optional",
    "_io",
    "_yaml",
    "exceptions",
}
BASE = {"protocols", "fields", "mechanisms", "meta", "evidence"}
ALLOWED: dict[str, set[str]] = {
    **{c: CORE for c in CORE},
    **{b: CORE for b in BASE},
    "evidence": CORE | {"meta"},
    "therapies": CORE | {"protocols", "fields", "mechanisms"},
    "bci": CORE | {"protocols", "fields", "mechanisms"},
    "cohorts": CORE | BASE | {"therapies"},
    "trials": CORE | BASE | {"therapies", "cohorts"},
    "optimize": CORE | BASE | {"therapies", "cohorts", "trials"},
}
LEAVES = {"report", "cli", "web", "__main__"}  # __main__: `python -m phantomlab`


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for n in names:
            parts = n.split(".")
            if parts[0] == "phantomlab" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_static_dependency_direction() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        layer = _layer(path)
        if layer in LEAVES or layer == "__init__":
            continue
        allowed = ALLOWED.get(layer, CORE) | {layer}
        for dep in _imports(path) - allowed:
            bad.append(f"{path.relative_to(SRC)} imports phantomlab.{dep}")
    assert not bad, "dependency direction violated:\n" + "\n".join(bad)


def test_leaves_are_not_imported_by_lower_layers() -> None:
    for path in SRC.rglob("*.py"):
        if _layer(path) in LEAVES:
            continue
        assert not (_imports(path) & LEAVES), path


@pytest.mark.parametrize("layer", sorted(set(ALLOWED) - CORE))
def test_fresh_interpreter_import(layer: str) -> None:
    allowed = ALLOWED[layer] | {layer}
    code = (
        "import sys, importlib\n"
        f"importlib.import_module('phantomlab.{layer}')\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules "
        "if m.startswith('phantomlab.')})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert loaded <= allowed, f"phantomlab.{layer} loaded {sorted(loaded - allowed)}"


# ---------------------------------------------------------------- module graph checks
#: The thin core: importable by every package, private-looking names included.
CORE_MODULES = {f"phantomlab.{c}" for c in CORE}
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _package(module: str) -> str:
    """Top-level subpackage (or core module) of a dotted module name."""
    return ".".join(module.split(".")[:2])


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import: not function bodies, not ``if TYPE_CHECKING:`` blocks."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            out += _module_level(node.orelse)
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody"):
            out += _module_level(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            out += _module_level(handler.body)
    return out


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """Absolute dotted name of what ``node`` imports from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_pkg else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imported(module: str, stmts: list[ast.stmt]) -> list[tuple[str, str | None, int]]:
    """``(module imported from, name or None, line)`` of every import in ``stmts``."""
    out: list[tuple[str, str | None, int]] = []
    for node in stmts:
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            src = _absolute(module, node)
            out += [(src, a.name, node.lineno) for a in node.names]
    return [o for o in out if o[0].split(".")[0] == "phantomlab"]


def _edges(module: str) -> set[str]:
    """Modules of the same package that ``module`` imports at module level."""
    stmts = _module_level(ast.parse(MODULES[module].read_text()).body)
    targets = set()
    for src, name, _ in _imported(module, stmts):
        full = f"{src}.{name}" if name else src
        targets.add(full if full in MODULES else src)
    return {t for t in targets if t in MODULES and _package(t) == _package(module)} - {module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_a_package() -> None:
    graph = {m: _edges(m) for m in MODULES}
    cycles = _cycles(graph)
    assert not cycles, "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_file_over_800_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in MODULES.values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines (split them): {long}"


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _private_imports(module: str) -> list[str]:
    """Imports by ``module`` of another package's private module or name."""
    bad = []
    tree = ast.parse(MODULES[module].read_text())
    stmts = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    for src, name, line in _imported(module, stmts):  # type: ignore[arg-type]
        full = f"{src}.{name}" if name else src
        if _package(full) == _package(module) or _package(full) in CORE_MODULES:
            continue
        if _private(full.removeprefix("phantomlab.")):
            bad.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {full}")
    return bad


def _private_members() -> dict[str, set[str]]:
    """Private attribute name -> packages whose classes define it (self._x, class body)."""
    owners: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    names = [node.attr]
            elif isinstance(node, ast.ClassDef):
                for st in node.body:
                    if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.append(st.name)
                    elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
                        names.append(st.target.id)
                    elif isinstance(st, ast.Assign):
                        names += [t.id for t in st.targets if isinstance(t, ast.Name)]
            for n in names:
                if _private(n):
                    owners.setdefault(n, set()).add(_package(module))
    return owners


def _private_attribute_access(module: str, owners: dict[str, set[str]]) -> list[str]:
    """``obj._name`` where ``_name`` is a private member of another package's class,
    or ``mod._name`` where ``mod`` is bound to another package's module."""
    bad = []
    tree = ast.parse(MODULES[module].read_text())
    aliases = {}  # local name -> module of another package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for src, name, _ in _imported(module, [node]):
                full = f"{src}.{name}" if name else src
                bound = next(a for a in node.names if (a.name == name or a.name == src))
                local = bound.asname or bound.name.split(".")[0]
                if full in MODULES and _package(full) != _package(module) and bound.asname:
                    aliases[local] = full
                elif name and full in MODULES and _package(full) != _package(module):
                    aliases[local] = full
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        v = node.value
        if isinstance(v, ast.Name) and v.id in ("self", "cls"):
            continue
        foreign = owners.get(node.attr, set()) - {_package(module)} - CORE_MODULES
        if (isinstance(v, ast.Name) and v.id in aliases) or foreign:
            where = f"{MODULES[module].relative_to(SRC)}:{node.lineno}"
            bad.append(f"{where} reads {ast.unparse(node)} ({', '.join(sorted(foreign)) or ''})")
    return bad


def test_no_private_access_across_packages() -> None:
    """No package reads another package's private modules, names or attributes.

    Flagged: ``from phantomlab.B._mod import x``, ``import phantomlab.B._mod``,
    ``from phantomlab.B.mod import _name``, ``from phantomlab.B import _mod``,
    ``mod._name`` on a module of B, and ``obj._name`` where ``_name`` is a private
    member (``self._name``, class body) of a class in B. The core modules
    (``phantomlab._units``, ``_validation``, ``_rng``, ``_params``, ``_result``,
    ``_optional``, ``exceptions``) are the public core and may be used by all.
    """
    owners = _private_members()
    bad = []
    for module in MODULES:
        if _package(module) == "phantomlab" or _package(module) in CORE_MODULES:
            continue
        bad += _private_imports(module) + _private_attribute_access(module, owners)
    assert not bad, "cross-package private access:\n" + "\n".join(sorted(set(bad)))

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
CORE = {"_units", "_validation", "_rng", "_params", "_result", "_optional", "exceptions"}
BASE = {"protocols", "fields", "mechanisms", "evidence"}
ALLOWED: dict[str, set[str]] = {
    **{c: CORE for c in CORE},
    **{b: CORE for b in BASE},
    "therapies": CORE | {"protocols", "fields", "mechanisms"},
    "bci": CORE | {"protocols", "fields", "mechanisms"},
    "cohorts": CORE | BASE | {"therapies"},
    "trials": CORE | BASE | {"therapies", "cohorts"},
    "optimize": CORE | BASE | {"therapies", "cohorts", "trials"},
}
LEAVES = {"report", "cli", "web"}


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

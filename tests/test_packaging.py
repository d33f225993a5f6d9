"""Packaging: ranges in pyproject.toml, exact pins in constraints.txt, optional extras.

The core install (protocols, evidence/meta, trials, optimize ...) must import and run
without any extra; a feature that needs one raises a MissingExtraError naming it.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from phantomlab._optional import EXTRAS, require
from phantomlab.exceptions import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "phantomlab"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
#: import name -> distribution, for the optional modules of _optional.EXTRAS
DISTRIBUTION = {
    "skfem": "scikit-fem",
    "gmsh": "gmsh",
    "pyamg": "pyamg",
    "dask": "dask",
    "distributed": "distributed",
    "pyarrow": "pyarrow",
    "mne": "mne",
    "nilearn": "nilearn",
    "meshio": "meshio",
    "nibabel": "nibabel",
    "pyriemann": "pyriemann",
    "psycopg": "psycopg",
    "pyabc": "pyabc",
    "SALib": "SALib",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "argon2": "argon2-cffi",
    "multipart": "python-multipart",
    "alembic": "alembic",
}
OPTIONAL_MODULES = sorted({m for mods in EXTRAS.values() for m in mods})


def _requirements() -> list[tuple[str, Requirement]]:
    out = [("dependencies", Requirement(r)) for r in PROJECT["dependencies"]]
    for extra, reqs in PROJECT["optional-dependencies"].items():
        out += [(f"extra {extra}", Requirement(r)) for r in reqs]
    return [(where, r) for where, r in out if canonicalize_name(r.name) != "phantomlab"]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def test_pyproject_has_ranges_not_pins() -> None:
    reqs = _requirements()
    pinned = [f"{w}: {r}" for w, r in reqs if any(s.operator == "==" for s in r.specifier)]
    assert not pinned, "exact pins belong in constraints.txt:\n" + "\n".join(pinned)
    unbounded = [f"{w}: {r}" for w, r in _requirements() if not r.specifier]
    assert not unbounded, "give each requirement a tested lower bound:\n" + "\n".join(unbounded)


def test_constraints_pin_every_requirement_inside_its_range() -> None:
    pins = _constraints()
    bad = []
    for where, req in _requirements():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            bad.append(f"{where}: {req.name} has no pin in constraints.txt")
        elif not req.specifier.contains(pin, prereleases=True):
            bad.append(f"{where}: {req} excludes the pinned {req.name}=={pin}")
    assert not bad, "\n".join(bad)


def test_extras_match_the_optional_helper() -> None:
    extras = PROJECT["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        names = {canonicalize_name(Requirement(r).name) for r in extras[extra]}
        for module in modules:
            assert canonicalize_name(DISTRIBUTION[module]) in names, (extra, module)
    core = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert not core & {canonicalize_name(d) for d in DISTRIBUTION.values()}
    assert extras["all"] == [f"phantomlab[{','.join(EXTRAS)}]"]
    assert "phantomlab[all]" in extras["dev"]  # make test covers every extra


def _top_level_imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_optional_modules_only_through_require() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[0] == "web":  # the web extra's own package (a leaf)
            continue
        for name in _top_level_imports(ast.parse(path.read_text())) & set(OPTIONAL_MODULES):
            bad.append(f"{path.relative_to(SRC)} imports {name} (use phantomlab._optional.require)")
    assert not bad, "\n".join(bad)


def test_require_names_the_extra() -> None:
    if importlib.util.find_spec("gmsh") is not None:
        assert require("gmsh", extra="fem").__name__ == "gmsh"
    with pytest.raises(ValueError, match="does not provide"):
        require("numpy", extra="fem")
    err = MissingExtraError("phantomlab.fields.fem", "fem", "gmsh")
    assert isinstance(err, ImportError)
    assert str(err) == (
        "phantomlab.fields.fem needs the optional 'fem' extra (gmsh is not installed): "
        "pip install 'phantomlab[fem]'"
    )


# Runs in a fresh interpreter in which every optional module fails to import.
BLOCKED = textwrap.dedent(
    """
    import importlib, sys
    BLOCK = set(sys.argv[1].split(","))

    class Hide:  # as if not installed: every finder answers None for a blocked name
        def __init__(self, inner):
            self.inner = inner

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCK:
                return None
            return self.inner.find_spec(name, path, target)

        def __getattr__(self, attr):
            return getattr(self.inner, attr)

    sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
    for pkg in ("protocols", "fields", "mechanisms", "evidence", "meta", "therapies",
                "cohorts", "trials", "optimize", "bci", "report"):
        try:
            importlib.import_module(f"phantomlab.{pkg}")
        except ModuleNotFoundError as exc:
            if exc.name != f"phantomlab.{pkg}":  # a package that does not exist yet is fine
                raise

    from phantomlab.exceptions import MissingExtraError
    from phantomlab.fields import get_cap
    from phantomlab.protocols import load_protocol

    p = load_protocol("modality: tdcs\\nanode: c3\\ncathode: FP2\\ncurrent: 2 mA\\n"
                      "electrode_area: 35 cm^2\\nduration: 20 min\\n"
                      "schedule: {sessions: 10, per_week: 5}\\n")
    assert (p.anode, p.cathode) == ("C3", "Fp2"), p
    assert len(get_cap("10-10")) > 60

    def extra_of(call):
        try:
            call()
        except MissingExtraError as exc:
            return exc.extra, str(exc)
        raise SystemExit(f"{call} ran without its extra")

    from phantomlab.bci import head_model
    from phantomlab.fields import default_model
    from phantomlab.fields.fem import mesh_layered_sphere
    from phantomlab.trials import run_replicates

    print(extra_of(lambda: mesh_layered_sphere(default_model(), 0.01)))
    print(extra_of(lambda: run_replicates(len, 2, seed=1, scheduler="local")))
    print(extra_of(lambda: head_model("eeg32")))
    print("leaked", sorted({m.split(".")[0] for m in sys.modules} & BLOCK))
    """
)


def test_core_install_without_extras() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BLOCKED, ",".join(OPTIONAL_MODULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "leaked []"
    expected = [("fem", "gmsh"), ("scale", "distributed"), ("bci", "mne")]
    for line, (extra, module) in zip(lines[:-1], expected, strict=True):
        assert f"'{extra}'" in line and f"({module} is not installed)" in line, line
        assert f"pip install 'phantomlab[{extra}]'" in line, line


def _csv_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


def test_shipped_electrode_data_matches_mne() -> None:
    mne = pytest.importorskip("mne")
    tools = ROOT / "tools" / "make_electrode_data.py"
    spec = importlib.util.spec_from_file_location("make_electrode_data", tools)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    names = [r[0] for r in _csv_rows(SRC / "protocols" / "data" / "electrode_names.csv")]
    assert names == [r[1] for r in gen.montage_rows(gen.NAMES_MONTAGE)], mne.__version__
    shipped = [tuple(r) for r in _csv_rows(SRC / "fields" / "data" / "montages.csv")]
    assert shipped == [row for m in gen.MONTAGES for row in gen.montage_rows(m)]


def test_web_templates_static_and_migrations_are_package_data() -> None:
    import glob

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["phantomlab"]
    shipped = {
        Path(f).as_posix()
        for p in patterns
        for f in glob.glob(p, root_dir=SRC, recursive=True)
        if (SRC / f).is_file()
    }
    wanted = {
        f.relative_to(SRC).as_posix()
        for folder in ("templates", "static", "migrations")
        for f in (SRC / "web" / folder).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    }
    assert {"web/templates/base.html", "web/static/clinic.css"} <= wanted
    assert "web/migrations/versions/0001_core.py" in wanted
    assert not wanted - shipped, sorted(wanted - shipped)

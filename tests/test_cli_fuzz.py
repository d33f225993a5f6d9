"""Fuzz every ``phantomlab`` command with hostile files, values and paths (issue #21, point 6).

The contract under test: whatever a user types, a command exits 0 (it worked) or 2 (bad
input, one ``error: ...`` line per problem), never prints a traceback or "internal error",
finishes within a time limit and stays within a memory limit.

The commands are enumerated from the Typer application, so a new command is fuzzed without
touching this file. Each command gets a few derandomized hypothesis examples in the default
run; ``-m slow`` runs many more. Calls run in-process (fast) under ``SIGALRM`` and
``RLIMIT_AS`` limits; a small sample runs in a subprocess to see true exit codes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TIME_LIMIT_S = 30  # per call; a command must reject bad input long before this
MEMORY_HEADROOM = 3 * 2**30  # address space a call may add to what the process holds
MAX_LINE = 1200  # longest stderr line accepted (problem lines cut long values)
#: Examples per command in the default run (``PHANTOMLAB_FUZZ_EXAMPLES`` raises it locally).
EXAMPLES = int(os.environ.get("PHANTOMLAB_FUZZ_EXAMPLES", "4"))


# --------------------------------------------------------------------------- commands


def _leaf_commands() -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the CLI as (path, click command), found by walking the app."""
    import typer

    from phantomlab.cli import main as _main_fn  # noqa: F401  (module import below)

    main_mod = sys.modules["phantomlab.cli.main"]
    main_mod._register()
    root = typer.main.get_command(main_mod.app)
    out: list[tuple[tuple[str, ...], Any]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            out.append((path, cmd))
            return
        for name, sub in sorted(subs.items()):
            walk(sub, (*path, name))

    walk(root, ())
    return out


COMMANDS = _leaf_commands()


def test_every_domain_is_enumerated() -> None:
    """The walk finds every domain group and enough commands (a guard on the enumeration)."""
    domains = {path[0] for path, _ in COMMANDS}
    main_mod = sys.modules["phantomlab.cli.main"]
    commands = {name for name, _ in main_mod._COMMANDS}  # top-level commands (serve)
    assert domains == {name for name, _ in main_mod._DOMAINS} | commands
    assert len(COMMANDS) >= 40


# --------------------------------------------------------------------------- hostile inputs

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def _hostile_files(root: Path) -> dict[str, Path]:
    """Write the fixed corpus of bad files once (binary, empty, huge-ish, garbage ...)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "binary.csv": bytes(range(256)) * 8,
        "empty.yaml": b"",
        "latin1.csv": "yi,vi\n0.5,0.1\n0.3,0.2\n# caf\xe9\n".encode("latin-1"),
        "garbage.yaml": b"{[: - !!python/object:os.system ]\n\t- &x *y\n",
        "alias_bomb.yaml": BILLION_LAUGHS.encode(),
        "dupkeys.yaml": b"modality: tdcs\ncurrent: 9 mA\ncurrent: 2 mA\n",
        "deep.yaml": b"[" * 5000 + b"]" * 5000,
        "list.yaml": b"- 1\n- 2\n",
        "nan.csv": b"yi,vi,x,y,z,study\nnan,inf,nan,inf,-inf,a\n1,-1,1e308,1e308,1e308,b\n",
        "k2.csv": b"yi,vi,sei,study,modality\n0.5,0.04,0.2,a,tdcs\n0.2,0.09,0.3,b,rtms\n",
        "extreme.csv": (b"yi,vi,study\n0.1,1e-300,a\n0.2,1e300,b\n0.3,5e-324,c\n1e300,1e-300,d\n"),
        "garbage.csv": b'a,"b\nc,d,e,f\n"""\n\x00\x00,1\n',
        "huge.csv": b"yi,vi\n" + b"0.5,0.1\n" * 400_000,  # ~3 MB
        "protocol_nan.yaml": b"modality: tdcs\ncurrent: nan mA\nduration: inf min\n",
        "protocol_bad.yaml": b"modality: rtms\nfrequency: -5 Hz\nintensity: 1e300 %MSO\n",
        "design.yaml": b"design: parallel\narms: [a]\nn_per_arm: 1e12\nseed: -1\n",
        "spec.yaml": b"name: x\narms: 7\nreplicates: nan\n",
        "points.csv": b"x,y,z\nnan,0,0\n1e308,1e308,1e308\n",
        "dipoles.csv": b"x,y,z,mx,my,mz\n0,0,0.09,0,0,nan\n",
        "json.json": b'{"a": [1, 2, {"b": NaN}], "c": 1e999}',
        "long_line.csv": b"a" * 1_000_000 + b"\n",
    }
    out = {}
    for name, data in files.items():
        path = root / name
        path.write_bytes(data)
        out[name] = path
    (root / "a_directory").mkdir(exist_ok=True)
    out["a_directory"] = root / "a_directory"
    return out


REPO = Path(__file__).resolve().parents[1]
#: Real input files (and small valid ones) that the fuzz mutates number by number.
SEED_FILES = {
    "design.yaml": REPO / "src/phantomlab/trials/examples/crossover.yaml",
    "spec.yaml": REPO / "src/phantomlab/trials/specs/bolognini2013.yaml",
    "cohort.yaml": REPO / "src/phantomlab/cohorts/data/default_cohort.yaml",
    "meta.csv": REPO / "tests/meta/metafor_reference/normand1999_md.csv",
}
SEED_TEXTS = {
    "tdcs.yaml": "modality: tdcs\ncurrent: 2 mA\nelectrode_area: 35 cm^2\nduration: 20 min\n"
    "anode: C3\ncathode: Fp2\nschedule: {sessions: 10, per_week: 5}\n",
    "rtms.yaml": "modality: rtms\nfrequency: 10 Hz\nintensity: 90 %MT\ntrains: 20\n"
    "train_duration: 6 s\ninter_train_interval: 54 s\npulses_per_session: 1200\n"
    "duration: 20 min\nschedule: {sessions: 10}\n",
    "features.yaml": "age: 52\nlevel: upper\nyears_since_amputation: 3\nbaseline_nrs: 6.5\n"
    "catastrophizing: 0.5\nanxiety: 0.2\ndepression: -0.3\n",
    "points.csv": "x_mm,y_mm,z_mm\n0,0,0\n10,20,30\n-30,5,60\n",
    "efield.csv": "Ex,Ey,Ez\n0.1,0.2,0.3\n0.0,0.1,0.0\n",
}
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
MUTATIONS = ["nan", ".nan", ".inf", "-.inf", "-1", "0", "1e308", "1e-320", "1e12", "-0", ""]
MUTATIONS += ["99999999999999999999999", "~", "[]", "{}", "'x'", "1e999", "2 kg", "nan mA"]


def _seed_texts() -> dict[str, str]:
    texts = dict(SEED_TEXTS)
    texts.update({k: v.read_text(encoding="utf-8") for k, v in SEED_FILES.items() if v.is_file()})
    return texts


@st.composite
def _mutant(draw: st.DrawFn, folder: Path) -> str:
    """A real input file with some numbers replaced by hostile values (or cut short)."""
    texts = _seed_texts()
    name = draw(st.sampled_from(sorted(texts)))
    text = texts[name]
    spans = [m.span() for m in NUMBER.finditer(text)]
    if spans:
        chosen = draw(st.lists(st.sampled_from(spans), min_size=1, max_size=3, unique=True))
        for start, end in sorted(chosen, reverse=True):
            text = text[:start] + draw(st.sampled_from(MUTATIONS)) + text[end:]
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = folder / f"{digest}_{name}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return str(path)


@dataclass(frozen=True)
class Paths:
    """Where the hostile corpus and the output targets lie for one test session."""

    root: Path
    files: dict[str, Path]

    def path_values(self) -> list[str]:
        """Input and output paths: bad files, missing ones, a directory, one under a file."""
        r = self.root
        return [
            *(str(p) for p in self.files.values()),
            str(r / "no_dir" / "missing.csv"),
            str(r / "no_dir" / "sub" / "out.csv"),
            str(self.files["binary.csv"] / "under_a_file.csv"),
            str(r / "a_directory"),
            str(r / "out.png"),
            str(r / "out.csv"),
            str(r / "out.html"),
            str(r / "out"),
            "",
            "\x00",
        ]

    def invalid_path_values(self) -> list[str]:
        """Paths no command can read from or write to."""
        return [
            str(self.files["binary.csv"] / "under_a_file.csv"),
            str(self.root / "no_dir" / "missing.csv"),
        ]


INT_VALUES = ["0", "-1", "1", "2", "-9223372036854775809", "9223372036854775808", "10**30"]
INT_VALUES += [str(10**30), "1000000000000", "nan", "1.5", "", "٣", "0x10"]
BAD_INTS = ["-1", "-2", "-1000000000000"]
FLOAT_VALUES = ["nan", "inf", "-inf", "1e308", "-1e308", "1e400", "5e-324", "-0.0", "0", "1"]
FLOAT_VALUES += ["-5", "abc", "", "1,5"]
BAD_FLOATS = ["nan", "inf", "-inf"]
TEXT_VALUES = [
    "nan mA",
    "inf mA",
    "-1 mA",
    "1e300 mA",
    "1e-300 cm^2",
    "2 kg",
    "mA",
    "10-10",
    "C3",
    "C3,Fp2",
    "0,0,0.09",
    "nan,nan,nan",
    "1:1000000000000:1",
    "20:10:-5",
    "0:0:0",
    "tdcs",
    "rtms",
    "scs",
    "planning",
    "reorganization",
    "all",
    "REML",
    "x=1",
    "=HYPERLINK(1)",
    "x" * 200_000,  # an echoed value must be cut
    "\u2028\n\r\t",
    "é🙂\u202e",
    "-",
    "--json",
]


def _value_strategy(annotation: Any, paths: Paths) -> st.SearchStrategy[str]:
    """Strategy for one option's text: hostile values of its type and of any other type."""
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    anything = st.one_of(
        st.sampled_from(TEXT_VALUES + INT_VALUES + FLOAT_VALUES + paths.path_values()), text
    )
    name = getattr(annotation, "__name__", str(annotation))
    typed = {
        "int": st.one_of(st.sampled_from(INT_VALUES), st.integers(-(2**70), 2**70).map(str)),
        "float": st.one_of(st.sampled_from(FLOAT_VALUES), st.floats(allow_nan=True).map(repr)),
        "Path": st.one_of(st.sampled_from(paths.path_values()), _mutant(paths.root / "mutants")),
    }.get(name, st.sampled_from(TEXT_VALUES + paths.path_values()))
    if name == "str":  # a str option may name a file (a protocol, a spec)
        typed = st.one_of(typed, _mutant(paths.root / "mutants"))
    return st.one_of(typed, typed, anything)


def _invalid_values(annotation: Any, paths: Paths) -> list[str]:
    """Values no option of this type accepts (empty if there is no such value)."""
    name = getattr(annotation, "__name__", str(annotation))
    pools = {"int": BAD_INTS, "float": BAD_FLOATS, "Path": paths.invalid_path_values()}
    return pools.get(name, [])


@st.composite
def _arguments(draw: st.DrawFn, command: Any, paths: Paths) -> list[str]:
    """Draw a command line for ``command``: some options set, at least one surely bad."""
    params = [p for p in command.params if p.opts and p.opts[0] not in ("--help",)]
    args: list[str] = []
    forced = [p for p in params if _invalid_values(p.type_descriptor.annotation, paths)]
    must = draw(st.sampled_from(forced)) if forced else None
    for p in params:
        ann = p.type_descriptor.annotation
        positional = p.param_type_name == "argument"
        if getattr(p, "is_flag", False):
            if draw(st.booleans()):
                args.append(p.opts[0])
            continue
        if p is must:
            strategy = st.sampled_from(_invalid_values(ann, paths))
            use = True
        else:
            strategy = _value_strategy(ann, paths)
            use = positional and (p.required or draw(st.booleans())) or draw(st.booleans())
        if not use:
            continue
        value = draw(strategy)
        if positional:
            args.append(value)
        else:
            args.append(f"{p.opts[0]}={value}")
    return draw(st.permutations(args)) if draw(st.booleans()) else args


# --------------------------------------------------------------------------- running


class _TimeLimit(BaseException):
    """Raised by the alarm inside a call that ran past the time limit."""


@dataclass
class Outcome:
    """What one call did."""

    code: int | str
    stdout: str
    stderr: str
    seconds: float


def _address_space() -> int:
    """Bytes of virtual memory this process holds now (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def run_in_process(args: list[str], *, time_limit: int = TIME_LIMIT_S) -> Outcome:
    """Run ``phantomlab ARGS`` through ``main()`` with a time and an address-space limit."""
    from phantomlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def _alarm(signum: int, frame: Any) -> None:
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    code: int | str = 0
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        signal.alarm(time_limit)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except _TimeLimit:
        code = "time limit"
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def contract_violations(outcome: Outcome) -> list[str]:
    """Every way ``outcome`` breaks the error contract (empty when it keeps it).

    With ``--json`` a command may report its problems in the JSON document on stdout
    instead of ``error:`` lines.
    """
    bad = []
    if outcome.code not in (0, 2):
        bad.append(f"exit code {outcome.code!r}")
    text = outcome.stdout + outcome.stderr
    if "Traceback (most recent call last)" in text:
        bad.append("a traceback was printed")
    if "internal error" in outcome.stderr:
        bad.append("internal error")
    if "out of memory" in outcome.stderr:
        bad.append("ran out of memory (size not checked before allocating)")
    lines = outcome.stderr.splitlines()
    if outcome.code == 2:
        errors = [ln for ln in lines if ln.startswith("error: ")]
        if not errors and not _is_json(outcome.stdout):
            bad.append("exit 2 without an 'error: ' line")
        strays = [ln for ln in lines if not ln.startswith(("error: ", "warning: ")) and ln]
        if strays and not any(ln.startswith(("Working", "Simulating")) for ln in strays):
            bad.append(f"stderr line that is not 'error:'/'warning:': {strays[0][:200]!r}")
    long = [ln for ln in lines if len(ln) > MAX_LINE]
    if long:
        bad.append(f"stderr line of {len(long[0])} characters")
    return bad


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The hostile corpus, written once per module."""
    root = tmp_path_factory.mktemp("fuzz")
    return Paths(root, _hostile_files(root / "corpus"))


@pytest.fixture
def isolated(sandbox: Paths, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """Keep every side effect of a fuzzed call inside the sandbox (cwd, HOME, databases)."""
    work = sandbox.root / "cwd"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(sandbox.root / "home"))
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(sandbox.root / "optimize.sqlite"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PHANTOMLAB_DEBUG", raising=False)
    return sandbox


#: commands whose *valid* run is a whole fit (an hour of CPU): one argument that is always out
#: of range is appended, so a fuzzed line that happens to be valid (``--cache-dir`` of an
#: existing folder, ``--seed 1``) stops at input checking instead of running the fit; every
#: other option is still fuzzed and must keep the contract
ALWAYS_BAD: dict[tuple[str, ...], list[str]] = {("trial", "validate"): ["--pool", "1"]}


def _fuzz(command_path: tuple[str, ...], command: Any, paths: Paths, examples: int) -> None:
    failures: list[str] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(args=_arguments(command, paths))
    def check(args: list[str]) -> None:
        argv = [*command_path, *args, *ALWAYS_BAD.get(command_path, [])]
        # a command may legitimately create its output folder (optimize --db): keep the
        # "missing folder" of the corpus missing, or a later example gets a valid path
        shutil.rmtree(paths.root / "no_dir", ignore_errors=True)
        outcome = run_in_process(argv)
        bad = contract_violations(outcome)
        if bad:
            shown = " ".join(a if len(a) < 80 else a[:60] + f"...({len(a)} chars)" for a in argv)
            tail = outcome.stderr.strip().splitlines()[-1:] or [""]
            failures.append(f"phantomlab {shown}: {'; '.join(bad)} | {tail[0][:300]}")

    check()
    assert not failures, "\n".join(failures)


IDS = [" ".join(path) for path, _ in COMMANDS]


@pytest.mark.parametrize(("command_path", "command"), COMMANDS, ids=IDS)
def test_fuzz_command(command_path: tuple[str, ...], command: Any, isolated: Paths) -> None:
    """A few hostile command lines per command keep the contract (the bounded default run)."""
    _fuzz(command_path, command, isolated, examples=EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize(("command_path", "command"), COMMANDS, ids=IDS)
def test_fuzz_command_long(command_path: tuple[str, ...], command: Any, isolated: Paths) -> None:
    """Many more hostile command lines per command (``-m slow``)."""
    _fuzz(command_path, command, isolated, examples=60)


# --------------------------------------------------------------------------- the harness itself


def test_contract_check_can_fail() -> None:
    """The checker flags tracebacks, internal errors, exit 1, dumps and overlong lines."""
    assert contract_violations(Outcome(0, "", "", 0.1)) == []
    assert contract_violations(Outcome(2, "", "error: x = 1: bad\n", 0.1)) == []
    assert contract_violations(Outcome(1, "", "internal error: ZeroDivisionError\n", 0.1))
    assert contract_violations(Outcome(2, "", "Traceback (most recent call last):\n", 0.1))
    assert contract_violations(Outcome(2, "", "error: a\n  b: c\n", 0.1))
    assert contract_violations(Outcome(2, "", "error: " + "x" * 5000 + "\n", 0.1))
    assert contract_violations(Outcome("time limit", "", "", 31.0))


def test_a_new_command_is_fuzzed_and_its_crash_caught(isolated: Paths) -> None:
    """A command added to the app is enumerated, and the fuzz reports its ZeroDivisionError."""
    import typer

    main_mod = sys.modules["phantomlab.cli.main"]
    toy = typer.Typer()

    @toy.command("divide")
    def divide(n: int = typer.Option(1, "--n")) -> None:  # pragma: no cover - via the CLI
        typer.echo(str(1 / (n + 1)))  # --n -1: the unchecked input the fuzz must find

    main_mod.app.add_typer(toy, name="toy-fuzz-check")
    try:
        found = dict(_leaf_commands())
        assert ("toy-fuzz-check", "divide") in found
        with pytest.raises(AssertionError, match="ZeroDivisionError"):
            _fuzz(("toy-fuzz-check", "divide"), found[("toy-fuzz-check", "divide")], isolated, 40)
    finally:
        main_mod.app.registered_groups[:] = [
            g for g in main_mod.app.registered_groups if g.name != "toy-fuzz-check"
        ]
    assert ("toy-fuzz-check", "divide") not in dict(_leaf_commands())


def test_time_limit_holds(isolated: Paths) -> None:
    """A long valid run (a full recalibration) is stopped by the alarm and reported."""
    outcome = run_in_process(["trial", "calibrate", "--out", "c.json"], time_limit=2)
    assert outcome.code == "time limit"
    assert 1.9 < outcome.seconds < 10
    assert contract_violations(outcome) == ["exit code 'time limit'"]


def test_memory_limit_holds() -> None:
    """The address-space limit really stops a runaway allocation (so the fuzz can catch one)."""
    import numpy as np

    start = time.perf_counter()
    with pytest.raises(MemoryError):
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY_HEADROOM, hard))
        try:
            np.ones(MEMORY_HEADROOM // 8 + 2**28)
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert time.perf_counter() - start < 5


def test_echoed_value_is_one_short_line(isolated: Paths) -> None:
    """A 200 kB value and one with newlines come back cut, on one line each."""
    outcome = run_in_process(["protocol", "show", "x\ny" * 100_000])
    assert outcome.code == 2, outcome
    assert contract_violations(outcome) == []
    assert max(len(ln) for ln in outcome.stderr.splitlines()) < MAX_LINE


NAMED_CASES = [  # inputs named in issue #21 that broke the contract
    (["field", "sphere", "--points", "{points}", "-o", "{root}/e.csv", "--current", "nan mA",
      "--anode", "C3", "--cathode", "Fp2"], "current"),
    (["field", "optimize-tdcs", "--target", "m1_hand_left", "--roi-mm", "-1"], "roi-mm"),
    (["field", "optimize-ti", "--target", "m1_hand_left", "--spacing-mm", "0.01"], "spacing-mm"),
    (["patient", "simulate", "--n", "1000000", "--days", "36500"], "n_patients x days"),
    (["optimize", "suggest", "p1", "--db", "{points}"], "db"),
    (["trial", "power", "--sims", "abc", "x.yaml"], "--sims"),
    (["meta", "rma", "{root}/corpus/latin1.csv", "--forest", "{root}/corpus/binary.csv/f.png"],
     ""),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "field"), NAMED_CASES, ids=[c[0][1] for c in NAMED_CASES])
def test_named_cases_exit_2_with_one_line(argv: list[str], field: str, isolated: Paths) -> None:
    """Each case is refused with exit 2 and one 'error:' line naming the field."""
    points = isolated.root / "points_ok.csv"
    points.write_text("x_mm,y_mm,z_mm\n0,0,70\n")
    args = [a.format(points=points, root=isolated.root) for a in argv]
    outcome = run_in_process(args)
    assert outcome.code == 2, outcome
    assert contract_violations(outcome) == [], outcome
    assert field in outcome.stderr.splitlines()[0], outcome.stderr


# --------------------------------------------------------------------------- subprocess sample


def _limit_child() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


_SLOW = pytest.mark.slow  # a fresh interpreter costs seconds: most cases run with -m slow
SUBPROCESS_CASES = [
    pytest.param(["no-such-command", "--x"], id="usage"),
    pytest.param(["patient", "simulate", "--n", "1000000", "--days", "36500"], id="huge n"),
    pytest.param(["trial", "cohort", "--n", str(10**12)], id="cohort", marks=_SLOW),
    pytest.param(["meta", "rma", "{corpus}/binary.csv"], id="binary", marks=_SLOW),
    pytest.param(["meta", "trimfill", "{corpus}/k2.csv"], id="trimfill k=2", marks=_SLOW),
    pytest.param(["protocol", "check", "{corpus}/alias_bomb.yaml"], id="alias bomb", marks=_SLOW),
    pytest.param(
        ["field", "sphere", "--points", "{corpus}/points.csv", "-o", "{corpus}/binary.csv/x.csv"],
        id="output under a file",
        marks=_SLOW,
    ),
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_subprocess_sample(case: list[str], sandbox: Paths) -> None:
    """True exit codes and stderr of a fresh interpreter under a 4 GiB address-space limit."""
    argv = [a.replace("{corpus}", str(sandbox.root / "corpus")) for a in case]
    env = {**os.environ, "HOME": str(sandbox.root / "home"), "MPLBACKEND": "Agg"}
    env.pop("PHANTOMLAB_DEBUG", None)
    env["PHANTOMLAB_OPTIMIZE_DB"] = str(sandbox.root / "sub.sqlite")
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "phantomlab", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=sandbox.root,
        preexec_fn=_limit_child,
    )
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)
    assert contract_violations(outcome) == [], (argv, proc.stderr[-2000:])
    assert math.isfinite(outcome.seconds)

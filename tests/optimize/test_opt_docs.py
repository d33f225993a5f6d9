from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "optimize.md"


def test_python_example_in_docs_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    ns: dict[str, object] = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)
    best = ns["best"]
    assert best is not None and best.params["amplitude"] == 1.9e-3


@pytest.mark.slow
def test_benchmark_smoke(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    monkeypatch.setenv("BENCH_OPT_PATIENTS", "2")
    monkeypatch.setenv("BENCH_OPT_BUDGET", "4")
    path = DOC.parents[1] / "benchmarks" / "bench_optimize.py"
    spec = importlib.util.spec_from_file_location("bench_optimize", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.N_PATIENTS, mod.BUDGET = 2, 4
    mod.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT sessions=[0-9.]+ ratio=[0-9.]+x violations=\d+ baseline=grid", last
    )

"""``run_replicates(scheduler="local")`` from a script, with and without the main guard."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from phantomlab.trials.runner import _guarded

pytest.importorskip("distributed")

BODY = """
import numpy as np
import pandas as pd
from phantomlab.trials import run_replicates


def task(seed, reps):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"replicate": reps, "x": rng.normal(size=len(reps))})


def main():
    res = run_replicates(task, 4, seed=1, chunk_size=2, scheduler="local", n_workers=1)
    print("LABEL", res.scheduler, repr(float(res.table["x"].sum())))
"""


def _run(tmp_path: Path, tail: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(BODY + textwrap.dedent(tail))
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )


def test_guard_detection_on_parsed_scripts():
    src = textwrap.dedent(
        """
        import x
        run()
        if __name__ == "__main__":
            run()
        else:
            run()
        if '__main__' == __name__:
            run()
        if True:
            run()
        """
    )
    tree = ast.parse(src)
    assert _guarded(tree, 3) is False
    assert _guarded(tree, 5) is True
    assert _guarded(tree, 7) is False
    assert _guarded(tree, 9) is True
    assert _guarded(tree, 11) is False
    assert _guarded(tree, 99) is None


@pytest.mark.slow
def test_unguarded_script_runs_on_threads_and_guarded_on_processes(tmp_path):
    # Without the fix, the unguarded script dies with "Nanny failed to start": each
    # spawned worker re-imports the script and starts a cluster of its own.
    bare = _run(tmp_path, "main()\n")
    assert bare.returncode == 0, bare.stderr[-2000:]
    assert "LABEL local cluster (1 threads)" in bare.stdout
    assert "outside an `if __name__" in bare.stderr and "script.py:" in bare.stderr
    guarded = _run(tmp_path, 'if __name__ == "__main__":\n    main()\n')
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert "LABEL local cluster (1 processes)" in guarded.stdout
    assert "outside an `if __name__" not in guarded.stderr
    # same seed, same bits on threads and processes
    assert bare.stdout.split()[-1] == guarded.stdout.split()[-1]


def test_documented_dask_example_is_guarded():
    import re

    doc = Path(__file__).resolve().parents[2] / "docs" / "trials.md"
    block = next(
        b
        for b in re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
        if 'scheduler="local"' in b
    )
    tree = ast.parse(block)
    last = tree.body[-1]
    assert _guarded(tree, last.lineno + 1) is True  # the main() call
    assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)

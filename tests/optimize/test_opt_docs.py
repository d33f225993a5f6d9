from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "optimize.md"


def test_python_example_in_docs_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    ns: dict[str, object] = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)
    best = ns["best"]
    assert best is not None and best.params["amplitude"] == 1.9e-3

"""The worked example of docs/meta_analysis.md runs and prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "meta_analysis.md"


def test_docs_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    text = DOC.read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    code = code.replace('"tests/meta', f'"{ROOT}/tests/meta')
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, str(DOC), "exec"), ns)
    shown = re.search(r"```\n(Random-Effects Model.*?)```", text, re.S)
    assert shown is not None
    printed = capsys.readouterr().out
    for line in shown.group(1).strip().splitlines():
        assert line.rstrip() in printed
    assert (tmp_path / "forest.png").exists()


def test_docstring_examples() -> None:
    import doctest
    import importlib

    names = ("phantomlab.meta", "phantomlab.meta.escalc", "phantomlab.meta.rma")
    for mod in map(importlib.import_module, names):
        result = doctest.testmod(mod)
        assert result.failed == 0 and result.attempted > 0, mod.__name__

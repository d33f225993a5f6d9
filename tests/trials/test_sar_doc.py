"""The worked example of docs/trials.md: a REDCap export to the analysis report, as documented."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SECTION = (
    (ROOT / "docs" / "trials.md")
    .read_text()
    .split("### Worked example: from a REDCap export to the report")[1]
    .split("\n## ")[0]
)


def _block(kind: str) -> str:
    return re.findall(rf"```{kind}\n(.*?)```", SECTION, flags=re.S)[0]


def test_documented_commands_give_the_documented_output(cli, tmp_path):
    shutil.copytree(ROOT / "examples" / "sar", tmp_path / "examples" / "sar")
    commands = [shlex.split(line) for line in _block("bash").strip().splitlines()]
    assert [c[:3] for c in commands] == [
        ["phantomlab", "trial", "import"],
        ["phantomlab", "trial", "report"],
    ]
    out = [cli(*c[1:], cwd=tmp_path) for c in commands]
    for r in out:
        assert r.returncode == 0, r.stderr
    assert "60 patients, 223 visits with an outcome" in out[0].stdout
    assert "Visits outside their window: 3 (0 excluded)." in out[0].stdout
    printed = [line.rstrip() for line in out[1].stdout.splitlines()]
    assert printed[:-1] == _block("text").rstrip("\n").splitlines()
    assert printed[-1] == "Wrote sar.html"
    html = (tmp_path / "sar.html").read_text()
    # three figures: CONSORT, tipping point, trajectories
    assert (
        "Synthetic data" in html and html.count("data:image/png") == 3
    )  # CONSORT, tipping, trajectories
    long = pd.read_csv(tmp_path / "long.csv")
    assert len(long) == 223 and long["patient"].nunique() == 60


def test_documented_mapping_is_the_example_mapping():
    from phantomlab._yaml import load_file, load_text

    doc = load_text(_block("yaml"), field="doc")
    shipped = load_file(ROOT / "examples" / "sar" / "mapping.yaml", field="map")
    assert doc == {k: v for k, v in shipped.items() if k != "repeat"}


def test_the_generator_writes_the_committed_export(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_redcap_export", ROOT / "examples" / "sar" / "make_redcap_export.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    target = tmp_path / "x.csv"
    mod.make_export().to_csv(target, index=False, lineterminator="\n")
    assert target.read_bytes() == (ROOT / "examples" / "sar" / "redcap_export.csv").read_bytes()

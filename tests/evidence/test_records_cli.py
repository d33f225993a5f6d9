"""``phantomlab evidence list|show|pool`` (thin CLI over records and synthesis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phantomlab.cli.evidence import app
from phantomlab.exceptions import InputError

runner = CliRunner()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


def test_list_json_filters_by_modality() -> None:
    out = runner.invoke(app, ["list", "--modality", "tdcs", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert {r["study_id"] for r in rows} == {"bolognini2013", "bolognini2015", "kikkert2019"}
    first = rows[0]
    assert first["line"] == 13 and first["sd"] is None
    assert first["protocol"] == "bolognini2013_active"
    assert {c["code"] for c in first["caveats"]} >= {"no_sd", "crossover", "secondary_source"}


def test_list_by_source_level() -> None:
    out = runner.invoke(app, ["list", "--source", "secondary", "--json"])
    rows = json.loads(out.output)
    assert len(rows) == 17 and all(r["source_level"] == "secondary" for r in rows)


def test_list_text_shows_every_row() -> None:
    out = runner.invoke(app, ["list"])
    assert out.exit_code == 0, out.output
    assert "53 rows, 27 studies" in out.output
    assert out.output.count("malavera2016") == 6


def test_show_resolves_protocol_links(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("phantomlab.protocols.reference")
    fake.list_reference = lambda: ["malavera2016_active", "some_other_protocol"]  # type: ignore[attr-defined]
    # the CLI imports phantomlab.protocols.reference; a stand-in library decides here
    monkeypatch.setitem(sys.modules, "phantomlab.protocols.reference", fake)
    out = runner.invoke(app, ["show", "malavera2016", "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    links = {p["protocol"]: p["in_library"] for p in d["protocols"]}
    assert links == {"malavera2016_active": True, "malavera2016_sham": False}
    assert d["citation"].startswith("Malavera 2016.")
    assert len(d["rows"]) == 6
    text = runner.invoke(app, ["show", "malavera2016"]).output
    assert "malavera2016_active: in the reference library" in text
    assert "malavera2016_sham: not in the library" in text


def test_show_with_the_real_library_when_present() -> None:
    pytest.importorskip("phantomlab.protocols.library")
    out = runner.invoke(app, ["show", "nihon2001", "--json"])
    d = json.loads(out.output)
    assert {p["protocol"]: p["in_library"] for p in d["protocols"]} == {
        "nihon2001_single_scs": True,
        "nihon2001_single_dbs": True,
        "nihon2001_single_mcs": True,
    }


def test_show_without_protocol_library_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in (
        "phantomlab.protocols.reference",
        "phantomlab.protocols.library",
        "phantomlab.protocols",
    ):
        monkeypatch.setitem(sys.modules, mod, None)  # every import of the library fails
    out = runner.invoke(app, ["show", "gilmore2019"])
    assert out.exit_code == 0, out.output
    assert "not checked (reference protocol library not available)" in out.output
    assert "post-amputation pain (residual + phantom)" in out.output


def test_pool_json_and_forest(tmp_path: Path) -> None:
    plot = tmp_path / "forest.png"
    out = runner.invoke(
        app,
        ["pool", "--by", "modality", "--outcome", "pain,responders", "--json", "--plot", str(plot)],
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["plot"] == str(plot) and plot.stat().st_size > 10_000
    pns = next(g for g in d["groups"] if g["outcome"] == "responders" and g["group"] == "PNS")
    assert pns["k"] == 3 and pns["model"]["k"] == 3  # Gilmore, Albright-Trainer, Kapural
    assert pns["shown"]["estimate"] > 1
    assert {e["study_id"] for e in d["not_poolable"]} >= {"bolognini2013", "gilmore2020"}


def test_pool_text_prints_caveats(tmp_path: Path) -> None:
    out = runner.invoke(app, ["pool", "--plot", str(tmp_path / "f.svg")])
    assert out.exit_code == 0, out.output
    assert "not poolable (listed, never imputed)" in out.output
    assert "crossover" in out.output and "secondary source" in out.output
    assert (tmp_path / "f.svg").exists()


def test_bad_input_exit_2_one_line_no_traceback() -> None:
    out = _cli("evidence", "show", "malavera2015")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "error: study_id = malavera2015: did you mean malavera2016? "
        "(allowed: one of the 27 study ids)"
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["list", "--modality", "ultrasound"], "modality"),
        (["list", "--source", "tertiary"], "source_level"),
        (["pool", "--outcome", "qol", "--no-plot"], "outcome"),
        (["pool", "--pain-measure", "RR", "--no-plot"], "measure (pain)"),
        (["pool", "--method", "XX", "--no-plot"], "method"),
    ],
)
def test_bad_options_raise_input_error(args: list[str], field: str) -> None:
    out = runner.invoke(app, args)
    assert isinstance(out.exception, InputError)  # main() prints it as one line, exit 2
    assert out.exception.problems[0].field == field

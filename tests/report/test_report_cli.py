"""``phantomlab report dose|meta|trial|calibration``: files written, clear errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def test_dose_card_command(run, tmp_path: Path, parse_report) -> None:
    out = tmp_path / "card.html"
    r = run("dose", "malavera2016_active", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout
    parse_report(out.read_text(encoding="utf-8"))


def test_dose_card_from_a_file(run, tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("modality: tdcs\ncurrent: 2 mA\nduration: 20 min\nname: mine\n")
    r = run("dose", str(f), "-o", str(tmp_path / "c.html"))
    assert r.returncode == 0, r.stderr
    assert "Dose card: mine" in (tmp_path / "c.html").read_text(encoding="utf-8")


def test_bad_input_is_one_line_and_exit_2(run, tmp_path: Path) -> None:
    cases = [
        (("dose", "no_such_protocol", "--out", str(tmp_path / "x.html")), "error: name = "),
        (("dose", "malavera2016_active", "--out", str(tmp_path / "x.txt")), "error: --out = "),
        (
            ("dose", "malavera2016_active", "--out", str(tmp_path / "nope" / "x.html")),
            "folder not found",
        ),
        (("calibration", "--out", str(tmp_path / "c.html"), "--file", str(tmp_path / "no.json")),
         "error: calibration = "),
    ]  # fmt: skip
    for args, message in cases:
        r = run(*args)
        assert r.returncode == 2, args
        assert message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not list(tmp_path.glob("*.html"))


def test_calibration_file_that_is_not_json(run, tmp_path: Path) -> None:
    bad = tmp_path / "cal.json"
    bad.write_text("{not json")
    r = run("calibration", "--out", str(tmp_path / "c.html"), "--file", str(bad))
    assert r.returncode == 2
    assert r.stderr.startswith("error: calibration = ") and "valid JSON" in r.stderr
    assert "{not" not in r.stderr  # the file's text is not echoed


def test_calibration_command(run, tmp_path: Path) -> None:
    r = run("calibration", "--out", str(tmp_path / "c.html"))
    assert r.returncode == 0, r.stderr
    assert "In silico." in (tmp_path / "c.html").read_text(encoding="utf-8")


def test_meta_command_on_a_table_and_on_the_evidence_base(run, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame(
        {"study": list("ABCD"), "yi": [0.1, 0.3, 0.5, 0.2], "vi": [0.01, 0.02, 0.03, 0.015]}
    ).to_csv(data, index=False)
    r = run("meta", str(data), "--slab", "study", "--out", str(tmp_path / "m.html"))
    assert r.returncode == 0, r.stderr
    r = run("meta", str(data), "--yi", "effect", "--out", str(tmp_path / "bad.html"))
    assert r.returncode == 2 and r.stderr.startswith("error: --yi = effect")
    r = run("meta", "--out", str(tmp_path / "syn.html"))
    assert r.returncode == 0, r.stderr
    assert "bolognini2013" in (tmp_path / "syn.html").read_text(encoding="utf-8")


def test_trial_command(run, tmp_path: Path) -> None:
    import phantomlab.trials
    from phantomlab.trials import ParametricTrialModel
    from phantomlab.trials.design import example_design

    design_file = Path(phantomlab.trials.__file__).parent / "examples" / "multicenter_sham.yaml"
    design = example_design("multicenter_sham")
    data = tmp_path / "trial.csv"
    ParametricTrialModel(design).simulate(20, 3).to_csv(data, index=False)
    out = tmp_path / "t.html"
    r = run("trial", str(data), "--design", str(design_file), "--out", str(out), "--real-data")
    assert r.returncode == 0, r.stderr
    assert "In silico." not in out.read_text(encoding="utf-8")
    r = run("trial", str(data), "--design", str(design_file), "-o", str(out), "--real-data")
    assert r.returncode == 2 and "exists; kept" in r.stderr and "--force" in r.stderr
    assert "In silico." not in out.read_text(encoding="utf-8")  # kept
    new = str(tmp_path / "t2.html")
    r = run("trial", str(tmp_path / "missing.csv"), "--design", str(design_file), "-o", new)
    assert r.returncode == 2 and r.stderr.startswith("error: file = ")

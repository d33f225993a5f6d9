"""CONSORT 2010 flow: box counts from a constructed trial, the arithmetic check, outputs."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from phantomlab.exceptions import InputError
from phantomlab.report.consort import consort_boxes, consort_figure, consort_report
from phantomlab.trials.consort import consort_flow, consort_from_counts, load_consort


def _trial() -> pd.DataFrame:
    """30 assessed: 4 ineligible, 2 declined; arm A 12 (1 not treated, 2 lost, 1 stopped,
    1 not analysed), arm B 12 (1 lost, all analysed)."""
    rows = [{"randomized": "no", "exclusion_reason": "not meeting inclusion criteria"}] * 4
    rows += [{"randomized": "no", "exclusion_reason": "declined to participate"}] * 2
    a = [{"randomized": "yes", "arm": "A"} for _ in range(12)]
    a[0].update(received="no", not_received_reason="withdrew consent")
    a[1].update(followup="lost", followup_reason="moved away")
    a[2].update(followup="lost", followup_reason="moved away")
    a[3].update(followup="discontinued", followup_reason="adverse event")
    a[0].update(analysed="no", analysis_exclusion_reason="no post-baseline data")
    b = [{"randomized": "yes", "arm": "B"} for _ in range(12)]
    b[5].update(followup="lost", followup_reason="")
    # interleave so that counting cannot rely on row order
    mixed = [r for pair in zip(a, b, strict=True) for r in pair]
    return pd.DataFrame(rows[:3] + mixed + rows[3:])


COUNTS = {
    "enrolment": {
        "assessed": 30,
        "excluded": {"declined to participate": 2, "not meeting inclusion criteria": 4},
    },
    "arms": {
        "A": {
            "allocated": 12,
            "received": 11,
            "not_received": {"withdrew consent": 1},
            "lost": {"moved away": 2},
            "discontinued": {"adverse event": 1},
            "analysed": 11,
            "excluded_from_analysis": {"no post-baseline data": 1},
        },
        "B": {"allocated": 12, "received": 12, "lost": {"reason not given": 1}, "analysed": 12},
    },
}


def test_box_numbers_of_a_constructed_trial():
    flow = consort_flow(_trial())
    assert flow.assessed == 30 and flow.randomized == 24
    assert flow.excluded == {"declined to participate": 2, "not meeting inclusion criteria": 4}
    a, b = flow.arms["A"], flow.arms["B"]
    assert (a.allocated, a.received, a.analysed) == (12, 11, 11)
    assert a.not_received == {"withdrew consent": 1}
    assert a.lost == {"moved away": 2} and a.discontinued == {"adverse event": 1}
    assert a.excluded_from_analysis == {"no post-baseline data": 1}
    assert (b.allocated, b.received, b.analysed) == (12, 12, 12)
    assert b.lost == {"reason not given": 1} and b.discontinued == {}
    assert list(flow.arms) == ["A", "B"]


def test_table_and_counts_file_agree(tmp_path):
    flow = consort_flow(_trial())
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(COUNTS))
    assert load_consort(path) == flow
    csv = tmp_path / "disposition.csv"
    _trial().to_csv(csv, index=False)
    assert load_consort(csv) == flow
    t = flow.table()
    total = t[(t["reason"] == "") & (t["box"] == "randomized")]["n"].item()
    assert total == 24


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("enrolment", "assessed"), 31, "enrolment.assessed"),
        (("arms", "A", "received"), 12, "arms.A.allocated"),
        (("arms", "B", "analysed"), 11, "arms.B.analysed"),
        (("arms", "B", "lost"), {"moved": 13}, "arms.B.lost"),
    ],
)
def test_inconsistent_counts_name_the_box(path, value, field):
    bad = copy.deepcopy(COUNTS)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError) as ei:
        consort_from_counts(bad)
    problems = ei.value.problems
    assert len(problems) == 1, problems
    assert problems[0].field == field
    consort_from_counts(COUNTS)  # the untouched counts pass


def test_bad_disposition_rows_are_reported():
    t = _trial()
    t.loc[7, "arm"] = None
    t.loc[8, "randomized"] = "maybe"
    with pytest.raises(InputError) as ei:
        consort_flow(t)
    fields = {p.field for p in ei.value.problems}
    assert fields == {"row 9.arm", "row 10.randomized"}
    with pytest.raises(InputError, match="randomized"):
        consort_flow(t.drop(columns="randomized"))
    with pytest.raises(InputError):
        consort_from_counts({"enrolment": {"assessed": -1}, "arms": {"A": {"allocated": "x"}}})


def test_figure_and_html_show_the_counts(tmp_path):
    flow = consort_flow(_trial())
    boxes = consort_boxes(flow)
    assert boxes["arms"]["A"]["allocation"][0] == "Allocated to A (n=12)"
    fig = consort_figure(flow)
    texts = "\n".join(t.get_text() for t in fig.axes[0].texts)
    for s in (
        "Assessed for eligibility (n=30)",
        "Randomised (n=24)",
        "Lost to follow-up (n=2)",
        "Analysed (n=11)",
        "Analysed (n=12)",
        "no post-baseline data (n=1)",
    ):
        assert s in texts
    html = consort_report(flow).html
    assert "Allocated to B (n=12)" in html and "Excluded (n=6)" in html
    assert "data:image/png;base64," in html


def test_cli_writes_svg_html_and_refuses_bad_counts(run, tmp_path):
    good = tmp_path / "flow.yaml"
    good.write_text(yaml.safe_dump(COUNTS))
    for name in ("flow.svg", "flow.html"):
        r = run("consort", str(good), "-o", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
        assert "randomised 24" in r.stdout
    assert (tmp_path / "flow.svg").read_text().lstrip().startswith("<?xml")
    bad = copy.deepcopy(COUNTS)
    bad["arms"]["A"]["analysed"] = 10
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    r = run("consort", str(path), "-o", str(tmp_path / "bad.svg"))
    assert r.returncode == 2
    assert "arms.A.analysed" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad.svg").exists()


def test_documented_counts_example():
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "trials.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S)
    counts = yaml.safe_load(next(b for b in blocks if "enrolment:" in b))
    flow = consort_from_counts(counts)
    assert (flow.assessed, flow.randomized) == (120, 100)
    assert flow.arms["active tDCS"].analysed == 49
    counts["arms"]["active tDCS"]["analysed"] = 48
    with pytest.raises(InputError) as ei:
        consort_from_counts(counts)
    assert [p.field for p in ei.value.problems] == ["arms.active tDCS.analysed"]


def test_cli_unreadable_inputs_exit_2(run, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path, out in ((empty, "x.svg"), (tmp_path / "none.csv", "x.svg"), (empty, "x.txt")):
        r = run("consort", str(path), "-o", str(tmp_path / out))
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1

"""Mantel-Haenszel and Peto models against metafor 3.8-1 and independent computations.

Reference: ``tests/meta/metafor_reference/mh/mh.json``, written by ``mh.R`` in the same
folder (R 4.2.2, metafor 3.8-1): dat.bcg, dat.egger2001, dat.collins1985b, the sparse
table 9 of dat.yusuf1985 with every continuity option, and degenerate synthetic tables.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.meta import MetaAnalysisWarning, MHResult, escalc, rma, rma_mh, rma_peto

REF = Path(__file__).parent / "metafor_reference" / "mh" / "mh.json"
CASES: dict[str, dict[str, Any]] = json.loads(REF.read_text())

#: metafor statistic -> MHResult attribute
FIELDS = {
    "beta": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci_lb": "ci_lb",
    "ci_ub": "ci_ub",
    "QE": "QE",
    "QEp": "QEp",
    "I2": "I2",
    "H2": "H2",
    "MH": "CMH",
    "MHp": "CMHp",
    "CO": "CO",
    "COp": "COp",
    "BD": "BD",
    "BDp": "BDp",
    "TA": "TA",
    "TAp": "TAp",
}


def _vec(x: Any) -> np.ndarray:
    vals = x if isinstance(x, list) else [x]
    return np.array([np.nan if v is None else v for v in vals], dtype=float)


def _fit(case: dict[str, Any]) -> MHResult:
    opts = {k: (v[0] if len(v) == 1 else v) for k, v in case["options"].items()}
    cells = [_vec(case[c]) for c in ("ai", "bi", "ci", "di")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        if case["model"] == "rma.mh":
            return rma_mh(*cells, measure=case["measure"], **opts)
        return rma_peto(*cells, **opts)


def _answered(case: dict[str, Any]) -> bool:
    return "error" not in case and case["beta"] is not None and case["zval"] is not None


ANSWERED = sorted(n for n, c in CASES.items() if _answered(c))
REFUSED = sorted(n for n, c in CASES.items() if not _answered(c))


def test_reference_covers_the_brief() -> None:
    datasets = {c["dataset"] for c in CASES.values()}
    assert {"dat.bcg", "dat.egger2001", "dat.yusuf1985 table 9"} <= datasets
    assert len(ANSWERED) >= 40 and len(REFUSED) >= 5


@pytest.mark.parametrize("name", ANSWERED)
def test_matches_metafor(name: str) -> None:
    case = CASES[name]
    res = _fit(case)
    assert res.k == case["k"] and res.k_yi == case["k_yi"]
    for key, attr in FIELDS.items():
        if key not in case:
            continue
        ref, got = case[key], getattr(res, attr)
        if ref is None:
            assert not math.isfinite(got), (key, got)
        elif ref == 0:
            assert abs(got) < 1e-12, (key, got)
        else:
            assert got == pytest.approx(ref, rel=1e-9), key
    yi, vi = _vec(case["yi"]), _vec(case["vi"])
    ok = np.isfinite(res.yi)
    np.testing.assert_allclose(res.yi[ok], yi[np.isfinite(yi)], rtol=1e-10)
    np.testing.assert_allclose(res.vi[ok], vi[np.isfinite(vi)], rtol=1e-10)
    w = res.weights[np.isfinite(res.weights)]
    np.testing.assert_allclose(w, _vec(case["weights"]), rtol=1e-10, atol=1e-12)
    if case["measure"] != "RD":
        assert res.estimate_exp == pytest.approx(math.exp(case["beta"]), rel=1e-12)


@pytest.mark.parametrize("name", ANSWERED)
def test_summary_is_metafors_text(name: str) -> None:
    """summary() prints exactly what metafor's print.rma.mh / print.rma.peto prints."""
    assert _fit(CASES[name]).summary() == CASES[name]["text"]


@pytest.mark.parametrize("name", REFUSED)
def test_no_estimate_is_an_input_error(name: str) -> None:
    """Where metafor returns NA (or stops), a clear InputError; never NaN."""
    case = CASES[name]
    with pytest.raises(InputError) as err:
        _fit(case)
    msg = str(err.value)
    assert "ai, bi, ci, di" in msg
    if "error" in case:
        assert "never occurred" in msg or "Peto" in msg


def test_published_values_bcg() -> None:
    """metafor's help pages (4 decimals, shared/research/stats.md section 1.4)."""
    d = CASES["bcg_mh_OR"]
    cells = [_vec(d[c]) for c in ("ai", "bi", "ci", "di")]
    r = rma_mh(*cells)
    assert (round(r.estimate, 4), round(r.se, 4), round(r.zval, 4)) == (-0.4734, 0.041, -11.5444)
    assert (round(r.estimate_exp, 4), round(r.ci_lb_exp, 4), round(r.ci_ub_exp, 4)) == (
        0.6229,
        0.5748,
        0.675,
    )
    assert (round(r.QE, 4), round(r.CMH, 4), round(r.TA, 4)) == (163.9426, 135.6889, 171.7567)
    rr = rma_mh(*cells, measure="RR")
    assert (round(rr.estimate, 4), round(rr.zval, 4), round(rr.QE, 4)) == (
        -0.4537,
        -11.5338,
        152.5676,
    )
    rd = rma_mh(*cells, measure="RD")
    assert (round(rd.estimate, 4), round(rd.zval, 4), round(rd.QE, 4)) == (
        -0.0033,
        -11.4708,
        386.7759,
    )
    p = rma_peto(*cells)
    assert (round(p.estimate, 4), round(p.se, 4), round(p.QE, 4), round(p.H2, 2)) == (
        -0.4744,
        0.0407,
        167.7302,
        13.98,
    )


def test_against_statsmodels_stratified_table() -> None:
    """An independent implementation: statsmodels' StratifiedTable (MH OR, RGB se, CMH,
    Breslow-Day and Tarone)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    for name in ("bcg_mh_OR", "collins1985b_mh_OR", "egger2001_noisis4_mh_OR"):
        d = CASES[name]
        a, b, c, dd = (_vec(d[x]) for x in ("ai", "bi", "ci", "di"))
        st = StratifiedTable([np.array([[a[i], b[i]], [c[i], dd[i]]]) for i in range(a.size)])
        r = rma_mh(a, b, c, dd)
        assert r.estimate_exp == pytest.approx(st.oddsratio_pooled, rel=1e-12)
        assert r.se == pytest.approx(st.logodds_pooled_se, rel=1e-10)
        assert r.CMH == pytest.approx(st.test_null_odds(correction=True).statistic, rel=1e-10)
        assert r.BD == pytest.approx(st.test_equal_odds(adjust=False).statistic, rel=1e-8)
        assert r.TA == pytest.approx(st.test_equal_odds(adjust=True).statistic, rel=1e-8)


def test_single_table_is_the_table() -> None:
    """One table: MH OR = ad/bc, Peto = (O - E)/V, CMH = (N-1)/N Pearson chi-square."""
    a, b, c, d = 5.0, 20.0, 9.0, 16.0
    r = rma_mh([a], [b], [c], [d], correct=False)
    assert r.estimate == pytest.approx(math.log(a * d / (b * c)), rel=1e-14)
    pearson = stats.chi2_contingency([[a, b], [c, d]], correction=False)[0]
    n = a + b + c + d
    assert r.CO == pytest.approx(pearson, rel=1e-12)
    assert r.CMH == pytest.approx(pearson * (n - 1) / n, rel=1e-12)
    p = rma_peto([a], [b], [c], [d])
    e = (a + c) * (a + b) / n
    v = (a + c) * (b + d) * (a + b) * (c + d) / (n * n * (n - 1))
    assert p.estimate == pytest.approx((a - e) / v, rel=1e-14)
    assert (p.QE, p.QEp, p.I2, p.H2) == (0.0, 1.0, 0.0, 1.0)


def test_pooled_estimate_uses_tables_not_corrected_estimates() -> None:
    """The mechanism: the MH/Peto pooled estimate comes from the tables, so the continuity
    correction of the study estimates (add, first value) moves Q but not the estimate;
    switching the correction onto the tables (second value) moves the estimate too."""
    d = CASES["yusuf9_mh_OR"]
    cells = [_vec(d[c]) for c in ("ai", "bi", "ci", "di")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        base = rma_mh(*cells)
        other = rma_mh(*cells, add=0.1)
        tables = rma_mh(*cells, add=[0.5, 0.5], to=["only0", "only0"])
        iv = rma(
            *(
                escalc("OR", ai=cells[0], bi=cells[1], ci=cells[2], di=cells[3])[k]
                for k in ("yi", "vi")
            ),
            method="EE",
        )
    assert other.estimate == base.estimate and other.QE != pytest.approx(base.QE, rel=1e-3)
    assert tables.estimate != pytest.approx(base.estimate, rel=1e-3)
    # the inverse-variance pool of the corrected study estimates is a different number
    assert iv.estimate != pytest.approx(base.estimate, rel=1e-2)


def test_group_sizes_instead_of_non_events() -> None:
    d = CASES["bcg_mh_RR"]
    a, b, c, dd = (_vec(d[x]) for x in ("ai", "bi", "ci", "di"))
    r1 = rma_mh(a, b, c, dd, measure="RR")
    r2 = rma_mh(a, None, c, None, n1i=a + b, n2i=c + dd, measure="RR")
    assert r1.estimate == r2.estimate and r1.QE == r2.QE


def test_missing_table_is_dropped_with_a_warning() -> None:
    d = CASES["bcg_mh_OR"]
    a, b, c, dd = (_vec(d[x]) for x in ("ai", "bi", "ci", "di"))
    a2 = a.copy()
    a2[3] = np.nan
    with pytest.warns(MetaAnalysisWarning, match="omitted"):
        r = rma_mh(a2, b, c, dd)
    keep = np.arange(a.size) != 3
    ref = rma_mh(a[keep], b[keep], c[keep], dd[keep])
    assert r.k == 12 and r.estimate == pytest.approx(ref.estimate, rel=1e-14)
    assert math.isnan(r.weights[3])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"measure": "SMD"}, "measure"),
        ({"add": -1}, "add"),
        ({"add": [0.5, 0.5, 0.5]}, "add"),
        ({"to": "sometimes"}, "to"),
        ({"drop00": "yes"}, "drop00"),
        ({"level": 120}, "level"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        rma_mh([1, 2], [10, 12], [3, 4], [9, 9], **kwargs)
    assert err.value.problems[0].field == field


def test_bad_counts() -> None:
    with pytest.raises(InputError, match="bad cell"):
        rma_mh([1, -2], [10, 12], [3, 4], [9, 9])
    with pytest.raises(InputError, match="n1i"):
        rma_peto([1, 20], None, [3, 4], None, n1i=[10, 12], n2i=[9, 9])
    with pytest.raises(InputError, match="equal lengths"):
        rma_mh([1, 2, 3], [10, 12], [3, 4], [9, 9])
    with pytest.raises(InputError, match="not numeric"):
        rma_mh(["a", "b"], [10, 12], [3, 4], [9, 9])
    with pytest.raises(InputError, match="missing"):
        rma_mh([1, 2], None, [3, 4], [9, 9])


def test_result_contract(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    d = CASES["yusuf9_mh_RR"]
    cells = [_vec(d[c]) for c in ("ai", "bi", "ci", "di")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        r = rma_mh(*cells, measure="RR", slab=[f"S{i}" for i in range(cells[0].size)])
    frame = r.to_frame()
    assert list(frame.columns)[:6] == ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub"]
    assert frame["estimate_exp"].iloc[0] == pytest.approx(r.estimate_exp)
    assert len(r.studies_frame()) == cells[0].size
    json.dumps(r.to_dict(), allow_nan=False)
    assert repr(r).startswith("<MHResult: MH, k = 26, RR = ")
    fig = r.plot(path=tmp_path / "forest.png")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:2] == ["S0", "S1"] and labels[-1] == "MH model (RR)"
    assert ax.get_xscale() == "log"
    texts = [t.get_text() for t in ax.texts]
    assert sum("no estimate" in t for t in texts) == int(np.isnan(r.yi).sum())
    assert (tmp_path / "forest.png").stat().st_size > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        rd = rma_mh(*cells, measure="RD")
    with pytest.raises(InputError, match="no ratio scale"):
        _ = rd.estimate_exp
    assert "estimate_exp" not in rd.to_dict()


def test_cli_mh_and_peto(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import pandas as pd
    from typer.testing import CliRunner

    from phantomlab.cli.meta import app

    d = CASES["bcg_mh_OR"]
    df = pd.DataFrame({c: _vec(d[c]) for c in ("ai", "bi", "ci", "di")})
    df["n1"], df["n2"] = df.ai + df.bi, df.ci + df.di
    path = tmp_path / "bcg.csv"
    df.to_csv(path, index=False)
    runner = CliRunner()
    out = runner.invoke(app, ["mh", str(path), "--bi", "bi", "--di", "di", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["estimate"] == pytest.approx(d["beta"], rel=1e-12)
    assert got["CMH"] == pytest.approx(d["MH"], rel=1e-12)
    out = runner.invoke(app, ["peto", str(path), "--n1i", "n1", "--n2i", "n2"])
    assert out.exit_code == 0 and out.stdout == CASES["bcg_peto"]["text"] + "\n"
    # the CLI error contract: one line per problem, exit code 2, no traceback
    bad = subprocess.run(
        [
            sys.executable,
            "-c",
            "from phantomlab.cli import main; main()",
            "meta",
            "mh",
            str(path),
            "--bi",
            "nope",
            "--n2i",
            "n2",
            "--di",
            "di",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--bi" in bad.stderr or "exactly one" in bad.stderr

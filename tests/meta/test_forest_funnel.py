"""Journal funnel plot: contour-enhanced bands, Egger line, ratio axis, SVG/PDF (its elements)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.meta import rma
from phantomlab.meta.plots import funnel

# eight log risk ratios, small studies larger effects (an asymmetric funnel)
YI = np.array([-0.9, -0.7, -0.55, -0.3, -0.25, -0.2, -0.1, -0.12])
VI = np.array([0.30, 0.22, 0.15, 0.06, 0.04, 0.03, 0.01, 0.008])


def _by_gid(ax: plt.Axes, gid: str) -> list[object]:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_contour_bands_sit_at_the_significance_boundaries() -> None:
    res = rma(YI, VI, method="EE")
    ax = funnel(res, contours=(90, 95, 99))
    for lv in (90, 95, 99):
        (band,) = _by_gid(ax, f"contour-{lv}")
        xy = np.vstack([p.vertices for p in band.get_paths()])
        z = stats.norm.isf((1 - lv / 100) / 2)
        se_max = xy[:, 1].max()
        # the band's edges at the widest SE are 0 -/+ z * SE (centred on no effect)
        np.testing.assert_allclose([xy[:, 0].min(), xy[:, 0].max()], [-z * se_max, z * se_max])
    assert len(_by_gid(ax, "contour-outer")) == 1 and len(_by_gid(ax, "refline")) == 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:4] == ["p > 0.1", "0.1 > p > 0.05", "0.05 > p > 0.01", "p < 0.01"]
    # ablation: the plain funnel has no bands and is centred on the pooled estimate
    plain = funnel(res)
    assert not any(str(a.get_gid()).startswith("contour") for a in plain.get_children())
    plt.close("all")


def test_egger_line_is_the_weighted_regression_on_the_standard_error() -> None:
    res = rma(YI, VI, method="EE")  # EE: regtest's meta-regression is plain WLS
    ax = funnel(res, egger=True)
    (line,) = _by_gid(ax, "egger")
    x, s = line.get_data()
    se = np.sqrt(VI)
    slope, intercept = np.polyfit(se, YI, 1, w=1 / se)  # independent fit (numpy WLS)
    np.testing.assert_allclose(x, intercept + slope * np.asarray(s), atol=1e-8)
    assert slope < 0  # small studies show larger (more negative) effects
    assert any("Egger regression, p" in t.get_text() for t in ax.get_legend().get_texts())
    assert not _by_gid(funnel(res), "egger")  # ablation: off by default
    plt.close("all")


def test_ratio_axis_svg_and_pdf(tmp_path: Path) -> None:
    res = rma(YI, VI)
    ax = funnel(res, contours=(90, 95, 99), egger=True, transf="exp", path=tmp_path / "funnel.svg")
    labels = {t.get_text(): x for t, x in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)}
    assert {"0.5", "1", "2"} <= set(labels)
    np.testing.assert_allclose([labels["0.5"], labels["1"], labels["2"]], np.log([0.5, 1, 2]))
    svg = (tmp_path / "funnel.svg").read_text()
    for gid in ("contour-95", "contour-99", "egger", "studies", "pooled"):
        assert f'id="{gid}' in svg, gid
    funnel(res, contours=(95,), path=tmp_path / "funnel.pdf")
    assert (tmp_path / "funnel.pdf").read_bytes()[:4] == b"%PDF"
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"contours": (95, 120)}, "contours"),
        ({"contours": ()}, "contours"),
        ({"transf": "log"}, "transf"),
    ],
)
def test_bad_options_are_one_input_error(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as exc:
        funnel(rma(YI, VI), **kwargs)  # type: ignore[arg-type]
    assert exc.value.problems[0].field == field


def test_docs_funnel_example_runs_and_prints_what_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "meta_analysis.md").read_text()
    part = text[text.index("## Contour-enhanced funnel plots") : text.index("## Binary outcomes")]
    blocks = re.findall(r"^```([\w ]*)\n(.*?)^```$", part, re.S | re.M)
    code = next(body for lang, body in blocks if lang == "python funnel")
    shown = next(body for lang, body in blocks if lang == "")
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('"tests/meta', f'"{root}/tests/meta'), "docs", "exec"), {})
    assert capsys.readouterr().out.strip() == shown.strip()
    assert (tmp_path / "bcg_funnel.png").read_bytes()[:4] == b"\x89PNG"
    assert "img/bcg_funnel_contour.png" in part
    assert (root / "docs" / "img" / "bcg_funnel_contour.png").exists()
    plt.close("all")

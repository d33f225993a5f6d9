"""Analyses specific to crossover and 2x2 factorial designs.

* 2x2 crossover: the period-difference analysis of Jones & Kenward (Design and
  Analysis of Cross-Over Trials, ch. 2) with a carry-over test on patient totals,
  and a mixed model ``y ~ arm + period + (1 | patient)``;
* 2x2 factorial: ANCOVA with effect-coded (-1/2, +1/2) factors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from phantomlab.exceptions import ModelFitWarning
from phantomlab.trials._stats import EFFECT_COLS as _EFFECT_COLS
from phantomlab.trials._stats import center_dummies as _center_dummies
from phantomlab.trials._stats import effect_row as _effect_row
from phantomlab.trials._stats import ols as _ols
from phantomlab.trials.design import TrialDesign

__all__ = ["crossover_analysis", "factorial_analysis"]


def crossover_analysis(
    data: pd.DataFrame, design: TrialDesign, *, mixed: bool = True
) -> pd.DataFrame:
    """Analyse a crossover trial.

    For two periods and two sequences (AB/BA, A the active arm, B the control)
    the standard analysis of Jones & Kenward (Design and Analysis of Cross-Over
    Trials, ch. 2) on the patients with both periods, with the model
    ``y_ip = mu + pi_p + tau_a(ip) + lambda_a(i,p-1) + s_i + e_ip``:

    * treatment (``"A - B"``): with within-patient differences
      ``d_i = y_i1 - y_i2``, ``(mean d_AB - mean d_BA) / 2`` estimates
      ``tau_A - tau_B`` adjusted for the period effect (biased by
      ``-(lambda_A - lambda_B) / 2`` under carry-over), with a two-sample t on
      ``d / 2`` (df ``n_AB + n_BA - 2``); identical to OLS with patient and
      period fixed effects;
    * period (``"period 2 - period 1"``): ``-(mean d_AB + mean d_BA) / 2``,
      same SE and df;
    * carry-over (``"carry-over"``): Grizzle's (1965, Biometrics) test,
      a two-sample t on patient totals ``y_i1 + y_i2``; the estimate
      ``mean T_AB - mean T_BA`` is ``lambda_A - lambda_B``. Between-patient,
      so it has low power; it is reported, not used to switch analyses (the
      two-stage procedure inflates the type I error; Freeman 1989, Stat Med).
      Prevent carry-over by design with an adequate washout.

    Always also a mixed model ``y ~ arm + period + (1 | patient)``
    (statsmodels MixedLM, REML), which uses incomplete patients too.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare` with a ``period`` column.
    design : TrialDesign
        A crossover design.
    mixed : bool
        Also fit the mixed model.

    Returns
    -------
    pandas.DataFrame
        Effects table: ``crossover`` rows for the 2x2 analysis (treatment,
        ``carry-over`` and ``period 2 - period 1``), ``mixed`` rows for the model.
    """
    import statsmodels.api as sm

    y = design.outcome.name
    ctrl = design.control_arm
    alpha = design.analysis.alpha
    rows = []
    piv = data.pivot(index="patient", columns="period", values=y)
    arms = data.pivot(index="patient", columns="period", values="arm")
    seqs = design.crossover.sequences if design.crossover else []
    if len(seqs) == 2 and len(seqs[0]) == 2 and piv.shape[1] >= 2:
        p1, p2 = sorted(piv.columns)[:2]
        comp = piv[[p1, p2]].dropna()
        seq = arms.loc[comp.index, p1] + "-" + arms.loc[comp.index, p2]
        s_ab = "-".join(seqs[0]) if seqs[0][1] == ctrl else "-".join(seqs[1])
        s_ba = "-".join(seqs[1]) if s_ab == "-".join(seqs[0]) else "-".join(seqs[0])
        d = (comp[p1] - comp[p2]).to_numpy()
        tot = (comp[p1] + comp[p2]).to_numpy()
        m_ab, m_ba = (seq == s_ab).to_numpy(), (seq == s_ba).to_numpy()
        n1, n2 = int(m_ab.sum()), int(m_ba.sum())
        if n1 >= 2 and n2 >= 2:
            active = s_ab.split("-")[0]
            dfree = n1 + n2 - 2
            se_d = 0.0
            for name, v, scale in (("treatment", d, 0.5), ("carry-over", tot, 1.0)):
                a, b = v[m_ab] * scale, v[m_ba] * scale
                sp2 = ((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / dfree
                se = float(np.sqrt(sp2 * (1 / n1 + 1 / n2)))
                label = f"{active} - {ctrl}" if name == "treatment" else "carry-over"
                rows.append(_effect_row("crossover", label, a.mean() - b.mean(), se, dfree, alpha))
                se_d = se if name == "treatment" else se_d
            period = -(d[m_ab].mean() + d[m_ba].mean()) / 2.0
            rows.append(
                _effect_row(
                    "crossover", f"period {p2:g} - period {p1:g}", period, se_d, dfree, alpha
                )
            )
    if not mixed:
        return pd.DataFrame(rows, columns=_EFFECT_COLS)
    others = [a for a in design.arm_names if a != ctrl and (data["arm"] == a).any()]
    periods = sorted(set(data["period"]))
    x = np.column_stack(
        [np.ones(len(data))]
        + [(data["arm"] == a).to_numpy(float) for a in others]
        + [(data["period"] == p).to_numpy(float) for p in periods[1:]]
    )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = sm.MixedLM(data[y].to_numpy(float), x, data["patient"].to_numpy())
            fit = model.fit(reml=True)
            fe, bse = np.asarray(fit.fe_params), np.asarray(fit.bse_fe)
    except (np.linalg.LinAlgError, ValueError) as exc:  # too few data for the mixed model
        msg = f"crossover mixed model could not be fitted: {exc}"
        warnings.warn(msg, ModelFitWarning, stacklevel=2)
        out = pd.DataFrame(rows, columns=_EFFECT_COLS)
        out.attrs["error"] = msg
        return out
    for i, a in enumerate(others):
        rows.append(_effect_row("mixed", f"{a} - {ctrl}", fe[1 + i], bse[1 + i], np.inf, alpha))
    return pd.DataFrame(rows, columns=_EFFECT_COLS)


def factorial_analysis(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """ANCOVA of a 2x2 factorial trial with effect-coded factors.

    Model: ``primary ~ 1 + a + b + a*b + baseline [+ center]`` with each factor
    coded -1/2, +1/2 (second level minus first in sorted order), so the ``a`` and
    ``b`` coefficients are main effects averaged over the other factor and
    ``a*b`` is the difference of the simple effects.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        A factorial design.

    Returns
    -------
    pandas.DataFrame
        Rows for the two main effects and the interaction.
    """
    ok = wide.dropna(subset=["baseline", "primary"])
    (f1, l1), (f2, l2) = design.factor_levels().items()
    lev = {a.name: a.factors for a in design.arms}
    a = ok["arm"].map(lambda s: 0.5 if lev[s][f1] == l1[1] else -0.5).to_numpy(float)
    b = ok["arm"].map(lambda s: 0.5 if lev[s][f2] == l2[1] else -0.5).to_numpy(float)
    x = np.column_stack(
        [np.ones(len(ok)), a, b, a * b, ok["baseline"].to_numpy(float)]
        + [_center_dummies(ok["center"], design)]
    )
    if len(ok) <= x.shape[1]:
        return pd.DataFrame(columns=_EFFECT_COLS)
    beta, cov, df = _ols(ok["primary"].to_numpy(float), x)
    names = [f"{f1}: {l1[1]} - {l1[0]}", f"{f2}: {l2[1]} - {l2[0]}", f"{f1} x {f2}"]
    rows = [
        _effect_row(
            "factorial",
            n,
            beta[i + 1],
            float(np.sqrt(cov[i + 1, i + 1])),
            df,
            design.analysis.alpha,
        )
        for i, n in enumerate(names)
    ]
    return pd.DataFrame(rows, columns=_EFFECT_COLS)

"""The generic meta-analysis engine, with metafor's names (nothing PLP-specific).

Effect sizes and models
    :func:`escalc` (effect sizes ``yi`` and sampling variances ``vi``),
    :func:`paired_escalc`, :func:`ri_sweep`, :func:`percent_change` (pre-post and
    crossover effect sizes with an explicit within-patient correlation),
    :func:`rma` (equal-, random- and mixed-effects models), :func:`rma_batch`
    (many intercept-only models at once), :func:`rma_subgroups` (subgroups and the
    test of subgroup differences).
Binary outcomes (2x2 tables)
    :func:`rma_mh` (Mantel-Haenszel OR, RR, RD with the Cochran-Mantel-Haenszel and
    Tarone tests), :func:`rma_peto` (Peto's one-step odds ratio).
Trial sequential analysis
    :func:`tsa` (required information size, Lan-DeMets O'Brien-Fleming boundaries),
    :func:`required_information_size`, :func:`ldobf_boundaries`.
Heterogeneity and sensitivity
    :func:`confint` (Q-profile intervals of tau^2, I^2, H^2), :func:`leave1out`,
    :func:`influence` (case-deletion diagnostics).
Small-study effects
    :func:`regtest` (Egger-type), :func:`ranktest` (Begg & Mazumdar),
    :func:`trimfill` (Duval & Tweedie).
Network meta-analysis
    :func:`nma` (contrast-level data), :func:`nma_arms` (arm-level data): contrast-based
    random-effects model of metafor's ``rma.mv``, league table, P-scores/SUCRA,
    design-by-treatment inconsistency, network graph and comparison-adjusted funnel plot.
Figures
    :func:`forest`, :func:`forest_subgroups`, :func:`funnel`.

Every analysis returns a result object (:class:`RMAResult`, :class:`ConfintResult`,
...) with ``summary()`` (metafor's printed text), ``to_frame()``, ``to_dict()`` and
``plot()``. Numbers agree with metafor 3.8-1 (reference files in ``tests/meta/``).

Examples
--------
>>> from phantomlab.meta import rma
>>> round(rma([-0.89, -1.59, -1.35, -1.44], [0.33, 0.19, 0.42, 0.02]).estimate, 4)
-1.422
"""

from __future__ import annotations

from phantomlab.meta._inputs import MetaAnalysisWarning
from phantomlab.meta.bias import ranktest, regtest, trimfill
from phantomlab.meta.diagnostics import (
    ConfintResult,
    InfluenceResult,
    Leave1outResult,
    RanktestResult,
    SubgroupResult,
)
from phantomlab.meta.escalc import MEASURES, escalc
from phantomlab.meta.escalc_paired import RiSweepResult, paired_escalc, percent_change, ri_sweep
from phantomlab.meta.influence import influence
from phantomlab.meta.mh import rma_mh, rma_peto
from phantomlab.meta.mh_result import MHResult
from phantomlab.meta.nma import nma, nma_arms
from phantomlab.meta.nma_results import Inconsistency, NMAResult
from phantomlab.meta.plots import forest, forest_subgroups, funnel
from phantomlab.meta.results import BatchResult, RegtestResult, RMAResult, TrimfillResult
from phantomlab.meta.rma import check_options, rma, rma_batch
from phantomlab.meta.sensitivity import confint, leave1out, rma_subgroups
from phantomlab.meta.tsa import TSAResult, ldobf_boundaries, required_information_size, tsa

__all__ = [
    "MEASURES",
    "BatchResult",
    "MHResult",
    "ConfintResult",
    "Inconsistency",
    "InfluenceResult",
    "Leave1outResult",
    "MetaAnalysisWarning",
    "NMAResult",
    "RMAResult",
    "RanktestResult",
    "RegtestResult",
    "RiSweepResult",
    "SubgroupResult",
    "TSAResult",
    "TrimfillResult",
    "check_options",
    "confint",
    "escalc",
    "forest",
    "forest_subgroups",
    "funnel",
    "influence",
    "ldobf_boundaries",
    "leave1out",
    "nma",
    "nma_arms",
    "paired_escalc",
    "percent_change",
    "ranktest",
    "regtest",
    "ri_sweep",
    "rma",
    "required_information_size",
    "rma_batch",
    "rma_mh",
    "rma_peto",
    "rma_subgroups",
    "trimfill",
    "tsa",
]

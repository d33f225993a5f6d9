"""Controlled vocabularies of the evidence CSV (modality, stat, population, design role).

The values are defined here once; :mod:`.records` validates every row against them
and ``docs/evidence.md`` describes them.
"""

from __future__ import annotations

__all__ = [
    "CONTROL_ARMS",
    "DESIGN_ROLES",
    "EVIDENCE_ONLY_KEYS",
    "MODALITIES",
    "MODALITY_KEYS",
    "POOLED_STATS",
    "POPULATIONS",
    "STATS",
]

#: Labels of the ``modality`` column (as published) -> the canonical modality keys of
#: the protocol standard (``phantomlab.protocols.MODALITIES``) they denote; a row of a
#: combined or pooled modality names several. Extend it together with the review
#: protocol (a test checks every key against the protocol registry, except the
#: evidence-only keys of :data:`EVIDENCE_ONLY_KEYS`).
MODALITY_KEYS: dict[str, tuple[str, ...]] = {
    "rTMS": ("rtms",),
    "tDCS": ("tdcs",),
    "tDCS+mirror therapy": ("tdcs", "mirror"),
    "rTMS/tDCS (excitatory M1)": ("rtms", "tdcs"),
    "mirror therapy": ("mirror",),
    "BCI": ("bci",),
    "PNS": ("pns",),
    "SCS": ("scs",),
    "DRG": ("drg",),
    "DBS": ("dbs",),
    "MCS": ("mcs",),
    "PME": ("pme",),
    "TENS": ("tens",),
    "VR": ("vr",),
}

#: Modality keys of the evidence base that have no protocol class: a study of such a
#: modality is evidence only (no reference protocol, no therapy model, no trial spec).
#: ``tens``: transcutaneous electrical nerve stimulation; ``vr``: virtual-reality
#: (visual illusion) training without phantom motor execution, which is ``pme``.
EVIDENCE_ONLY_KEYS: frozenset[str] = frozenset({"tens", "vr"})

#: Controlled vocabulary of the ``modality`` column (the labels of :data:`MODALITY_KEYS`).
MODALITIES: tuple[str, ...] = tuple(MODALITY_KEYS)

#: What a row's ``value`` (or ``events``/``total``) means.
STATS: dict[str, str] = {
    "mean": "arm mean of the outcome at the time point (value, sd)",
    "pct_change_mean": "arm mean percent change from baseline, negative = reduction (value, sd)",
    "responders": "responders in the arm (events of total)",
    "regression_beta": "regression coefficient of the arm effect (value; no SE in the table)",
    "hedges_g": "published pooled Hedges' g with its 95% CI (ci_lb, ci_ub)",
    "mean_difference": "published pooled mean difference with its 95% CI (ci_lb, ci_ub)",
}

#: Arm names that denote a comparator (sham, placebo or usual care).
CONTROL_ARMS: frozenset[str] = frozenset({"sham", "placebo", "control"})

#: Statistics that are published pooled estimates (meta-analyses), not study arms.
POOLED_STATS: frozenset[str] = frozenset({"hedges_g", "mean_difference"})

#: The ``population`` column: whose pain the row's value describes.
POPULATIONS: dict[str, str] = {
    "chronic_plp": "chronic phantom limb pain (the value is phantom pain of established amputees)",
    "post_amputation_pain": "chronic post-amputation pain: residual-limb and/or phantom pain "
    "reported as one outcome",
    "acute_postoperative": "pain in the days to weeks after the amputation (acute, post-operative)",
    "mixed": "a population mixing amputees with other conditions (e.g. plexus avulsion, central "
    "pain) in one value",
}

#: The ``design_role`` column: what the row's patients are within their study.
DESIGN_ROLES: dict[str, str] = {
    "rct_arm": "an arm of a parallel randomized trial, as randomized (or as analysed)",
    "crossover_arm": "one condition of a crossover / within-participant trial",
    "factorial_effect": "a main effect or interaction of a factorial trial (a contrast, not "
    "an arm)",
    "single_arm_series": "an uncontrolled case series, all treated patients",
    "selected_completers": "patients selected after treatment began (test responders, completers "
    "of a follow-up), not all treated",
    "selected_subgroup": "a subgroup selected by an earlier outcome (e.g. failures of a first "
    "treatment)",
    "pooled_series": "patients of several studies or reports pooled by a review",
    "published_pool": "a pooled estimate published by a meta-analysis (not patients)",
}

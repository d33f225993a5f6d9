"""Persistent per-patient optimization sessions: new, suggest, record, status.

An :class:`OptimizationSession` ties one patient to a :class:`SessionStore`. The
policy holds no state of its own between calls: every ``suggest`` rebuilds
it from the stored history (same seed and history give the same suggestion),
so a crash between ``suggest`` and ``record`` loses nothing - the suggestion is
stored before it is shown, ``suggest`` returns it again until it is reported,
and ``record`` attaches a report to exactly the suggestion it names (by the token
``suggest`` printed). A retry of the same report (say after ``record`` committed but
was killed before it replied) is recognised and not applied twice; a different report
for an already reported suggestion is refused.

The search policy is chosen by name (:func:`~phantomlab.optimize.policy.register_policy`;
default ``"scs"``, :class:`~phantomlab.optimize.scs.SCSProgramming`) and stored with the
session, so a restored session rebuilds the same policy.

Reports: pain NRS 0-10 with the protocol, and the side-effect rating 0-10. With
a baseline NRS the relief (baseline - NRS) and the responder flag (relief of
at least 30% of baseline, "moderately important" in IMMPACT, Dworkin et al.
2008 J Pain 9:105, via research/stats.md) are derived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._io import save_figure
from phantomlab._result import Result, as_figure
from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.policy import (
    Policy,
    PolicySettings,
    SafetyCheck,
    Suggestion,
    make_policy,
)
from phantomlab.optimize.safety import ProtocolSafety
from phantomlab.optimize.scs import SCS_POLICY
from phantomlab.optimize.space import ParameterSpace, default_space
from phantomlab.optimize.storage import (
    SessionRecord,
    SessionStore,
    SuggestionRecord,
    parse_token,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RESPONDER_FRACTION", "OptimizationSession", "SessionConfig", "SessionStatus"]

#: Relief fraction of baseline that makes a responder (IMMPACT: >= 30% is
#: moderately important; Dworkin et al. 2008, J Pain 9(2):105-121).
RESPONDER_FRACTION = 0.30


@dataclass(frozen=True)
class SessionConfig:
    """Settings of one patient's optimization, stored with the session.

    Parameters
    ----------
    modality : str
        Protocol modality key.
    acquisition : str
        ``"ucb"`` or ``"ei"``.
    kappa : float
        UCB exploration weight.
    side_effect_limit : float or None
        Highest tolerated expected side-effect rating (0-10).
    objective : str
        ``"nrs_change"`` or ``"responder"`` (needs ``baseline_nrs``).
    baseline_nrs : float or None
        Pain NRS without stimulation.
    seed : int
        Random seed of the policy.
    bounds : dict
        Narrowed bounds per continuous parameter (SI).
    safe_seed : dict
        Safe starting protocol overriding the modality default (SI).
    perception_threshold : dict
        Measured perception threshold (A) per bipole (SCS paresthesia mapping),
        or ``{"*": A}`` for one threshold; turns on the policy's
        threshold-anchored discomfort prior (empty: flat prior).
    policy : str
        Registered name of the search policy (default ``"scs"``).
    """

    modality: str
    acquisition: str = "ucb"
    kappa: float = 3.0
    side_effect_limit: float | None = 3.0
    objective: str = "nrs_change"
    baseline_nrs: float | None = None
    seed: int = 0
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    safe_seed: dict[str, Any] = field(default_factory=dict)
    perception_threshold: dict[str, float] = field(default_factory=dict)
    policy: str = SCS_POLICY

    def threshold(self) -> float | dict[str, float] | None:
        """Return the policy's ``perception_threshold`` argument (None when not measured)."""
        if not self.perception_threshold:
            return None
        if set(self.perception_threshold) == {"*"}:
            return float(self.perception_threshold["*"])
        return dict(self.perception_threshold)

    def space(self) -> ParameterSpace:
        """Return the patient's parameter space (bounds and seed applied)."""
        sp = default_space(self.modality)
        if self.bounds:
            sp = sp.with_bounds(**{k: (float(v[0]), float(v[1])) for k, v in self.bounds.items()})
        if self.safe_seed:
            sp = sp.with_seed(self.safe_seed)
        return sp

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["bounds"] = {k: tuple(v) for k, v in d.get("bounds", {}).items()}
        return cls(**d)


@dataclass(frozen=True, repr=False)
class SessionStatus(Result):
    """History and current recommendation of one patient's session.

    Attributes
    ----------
    patient, modality : str
        Who and what.
    config : SessionConfig
        Settings.
    history : list of SuggestionRecord
        Every suggestion with its report.
    recommendation : Suggestion or None
        Tested protocol believed best (posterior mean) among believed-safe ones.
    """

    patient: str
    modality: str
    config: SessionConfig
    history: list[SuggestionRecord]
    recommendation: Suggestion | None

    @property
    def pending(self) -> SuggestionRecord | None:
        """The suggestion waiting for a report, if any."""
        p = [h for h in self.history if h.pending]
        return p[-1] if p else None

    def to_frame(self) -> pd.DataFrame:
        """One row per suggestion: time, parameters, reports, derived relief."""
        rows = []
        base = self.config.baseline_nrs
        for h in self.history:
            o = h.observation
            row: dict[str, Any] = {
                "seq": h.seq,
                "suggested_at": h.created_at,
                "reason": h.info.get("reason", ""),
            }
            row.update(h.params)
            row["reported_at"] = o.created_at if o else None
            row["nrs"] = o.nrs if o else np.nan
            row["side_effect"] = o.side_effect if o and o.side_effect is not None else np.nan
            row["nrs_change"] = (base - o.nrs) if (o and base is not None) else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Text report: settings, history table, pending suggestion, recommendation."""
        df = self.to_frame()
        n_obs = int(df["nrs"].notna().sum()) if len(df) else 0
        lines = [
            f"patient {self.patient} - {self.modality} - {n_obs} report(s), "
            f"{len(self.history) - n_obs} pending",
            f"policy {self.config.policy}, acquisition {self.config.acquisition} "
            f"(kappa {self.config.kappa:g}), "
            f"side-effect limit {self.config.side_effect_limit}, "
            f"baseline NRS {self.config.baseline_nrs}",
        ]
        if len(df):
            lines.append(df.drop(columns=["suggested_at", "reported_at"]).to_string(index=False))
        if self.pending is not None:
            lines.append(
                f"pending suggestion #{self.pending.seq} (token {self.pending.token}): "
                f"{self.pending.params}"
            )
        if self.recommendation is not None:
            r = self.recommendation
            lines.append(
                f"recommended so far: {r.params} (predicted relief {r.relief_mean:.2f} "
                f"+/- {r.relief_sd:.2f}; side effect {r.side_effect_mean:.2f})"
            )
        lines.append("in silico decision support: a clinician decides every protocol.")
        return "\n".join(lines)

    def plot(self, ax: Any = None, path: str | Path | None = None) -> Figure:
        """History plot: NRS and side effect per session, limit and baseline lines.

        Parameters
        ----------
        ax : pair of matplotlib Axes, optional
            Axes for the NRS and the side-effect panels (default: a new Figure).
        path : str, Path or None
            Save the figure there (PNG, SVG, PDF by suffix).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from matplotlib.figure import Figure

        df = self.to_frame()
        if ax is None:
            a1, a2 = Figure(figsize=(7, 5)).subplots(2, 1, sharex=True)
        else:
            a1, a2 = ax
        fig = as_figure(a1)
        if len(df):
            a1.plot(df["seq"], df["nrs"], "o-", label="reported NRS")
            a1.plot(df["seq"], pd.Series(df["nrs"]).cummin(), "--", label="lowest so far")
            a2.plot(df["seq"], df["side_effect"], "s-", color="C3", label="side effect")
        if self.config.baseline_nrs is not None:
            a1.axhline(self.config.baseline_nrs, color="grey", ls=":", label="baseline")
        if self.config.side_effect_limit is not None:
            a2.axhline(self.config.side_effect_limit, color="C3", ls=":", label="tolerated limit")
        a1.set_ylim(-0.5, 10.5)
        a2.set_ylim(-0.5, 10.5)
        a1.set_ylabel("pain NRS")
        a2.set_ylabel("side effect (0-10)")
        a2.set_xlabel("session")
        a1.set_title(f"optimization history - patient {self.patient} ({self.modality})")
        a1.legend(fontsize=7)
        a2.legend(fontsize=7)
        if ax is None:
            fig.tight_layout()
        if path is not None:
            save_figure(fig, path, dpi=120)
        return fig


def _check_report(name: str, value: Any) -> list[Problem]:
    if value is None:
        return []
    return check_range(name, value, low=0.0, high=10.0, source="0-10 numeric rating scale")


class OptimizationSession:
    """One patient's persistent optimization (see the module docstring).

    Parameters
    ----------
    store : SessionStore
        Where the session lives.
    record : SessionRecord
        The session row.
    """

    def __init__(self, store: SessionStore, record: SessionRecord) -> None:
        self.store = store
        self.record_ = record
        self.config = SessionConfig.from_dict(record.config)
        self.space = self.config.space()
        self.safety = ProtocolSafety()

    @property
    def patient(self) -> str:
        """Patient identifier."""
        return self.record_.patient

    @classmethod
    def new(
        cls,
        patient: str,
        modality: str,
        *,
        db: str | Path | None = None,
        baseline_nrs: float | None = None,
        side_effect_limit: float | None = 3.0,
        acquisition: str = "ucb",
        kappa: float = 3.0,
        objective: str = "nrs_change",
        safe_seed: dict[str, Any] | None = None,
        bounds: dict[str, tuple[Any, Any]] | None = None,
        seed: int = 0,
        perception_threshold: dict[str, Any] | None = None,
        policy: str = SCS_POLICY,
    ) -> OptimizationSession:
        """Create a patient's session (validated) and store it.

        Parameters
        ----------
        patient : str
            Patient identifier (unique in the database).
        modality : str
            Protocol modality key with a built-in space.
        db : str, Path or None
            Database URL or SQLite path (default: :func:`~phantomlab.optimize.storage.default_url`).
        baseline_nrs : float or None
            Pain NRS without stimulation (0-10).
        side_effect_limit : float or None
            Tolerated side-effect rating (0-10).
        acquisition, kappa, objective
            Policy settings (see :class:`~phantomlab.optimize.policy.PolicySettings`).
        safe_seed : dict or None
            Safe starting protocol, values with units (``{"amplitude": "1.9 mA"}``).
        bounds : dict or None
            Narrowed bounds, ``{"amplitude": ("1 mA", "5 mA")}``.
        seed : int
            Policy random seed.
        perception_threshold : dict or None
            Measured perception threshold per bipole, with units
            (``{"E3-E4": "1.2 mA"}``), or ``{"*": "1.2 mA"}`` for one value
            (measured at the seed's pulse width).
        policy : str
            Registered name of the search policy (:func:`~phantomlab.optimize.policy.policy_names`).

        Returns
        -------
        OptimizationSession
            The stored session.
        """
        space = default_space(modality)
        problems = _check_report("baseline_nrs", baseline_nrs)
        problems += _check_report("side_effect_limit", side_effect_limit)
        problems += check_range("seed", seed, low=0, high=2**32 - 1)  # numpy seeds are >= 0
        if objective == "responder" and baseline_nrs is None:
            problems.append(
                Problem(
                    "objective",
                    objective,
                    "a baseline NRS",
                    "",
                    "the responder objective needs --baseline-nrs",
                )
            )
        raise_if(problems)
        parsed_bounds: dict[str, tuple[float, float]] = {}
        for k, (lo, hi) in (bounds or {}).items():
            v = space.parse({k: lo})[k], space.parse({k: hi})[k]
            parsed_bounds[k] = (float(v[0]), float(v[1]))
        if parsed_bounds:
            space = space.with_bounds(**parsed_bounds)
        seed_point = space.parse(safe_seed or {})
        if seed_point:
            space = space.with_seed(seed_point)
        thresholds: dict[str, float] = {}
        for k, v in (perception_threshold or {}).items():
            thresholds[str(k)] = float(space.parse({"amplitude": v})["amplitude"])
        config = SessionConfig(
            modality=space.modality,
            acquisition=acquisition,
            kappa=float(kappa),
            side_effect_limit=side_effect_limit,
            objective=objective,
            baseline_nrs=baseline_nrs,
            seed=int(seed),
            bounds=parsed_bounds,
            safe_seed=seed_point,
            perception_threshold=thresholds,
            policy=policy,
        )
        cls._policy_for(config, config.space(), ProtocolSafety(), [], 1)  # validates settings
        bad = ProtocolSafety().violations(space, space.safe_seed)
        if bad:
            raise InputError(
                [
                    Problem(
                        f"safe_seed.{p.field}",
                        p.value,
                        p.limit,
                        p.source,
                        f"the starting protocol fails the safety check: {p.message}",
                    )
                    for p in bad
                ]
            )
        store = SessionStore(db)
        rec = store.create_session(patient, space.modality, config.to_dict())
        return cls(store, rec)

    @classmethod
    def open(cls, patient: str, db: str | Path | None = None) -> OptimizationSession:
        """Open an existing patient's session (``InputError`` for an unknown patient)."""
        store = SessionStore(db)
        return cls(store, store.get_session(patient))

    # -- policy from history ---------------------------------------------------------------------
    @staticmethod
    def _policy_for(
        config: SessionConfig,
        space: ParameterSpace,
        safety: SafetyCheck | None,
        history: list[SuggestionRecord],
        seq: int,
    ) -> Policy:
        settings = PolicySettings(
            space=space,
            side_effect_limit=config.side_effect_limit,
            objective=config.objective,
            acquisition=config.acquisition,
            kappa=config.kappa,
            perception_threshold=config.threshold(),
            safety=safety,
            rng=np.random.default_rng([config.seed, seq]),
        )
        policy = make_policy(config.policy, settings)
        for h in history:
            o = h.observation
            if o is None:
                continue
            policy.tell(h.params, OptimizationSession._value(config, o.nrs), o.side_effect)
        return policy

    @staticmethod
    def _value(config: SessionConfig, nrs: float) -> float:
        base = config.baseline_nrs
        relief = (base - nrs) if base is not None else -nrs
        if config.objective == "responder" and base is not None:
            return float(base > 0 and relief >= RESPONDER_FRACTION * base)
        return float(relief)

    def policy(self) -> Policy:
        """Return the session's policy told every report so far."""
        hist = self.store.history(self.record_.id)
        return self._policy_for(self.config, self.space, self.safety, hist, len(hist) + 1)

    # -- verbs ---------------------------------------------------------------------------------
    def suggest(self) -> tuple[SuggestionRecord, bool]:
        """Return the pending suggestion, or compute and store the next one.

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion (its ``info`` holds the reason, predictions and the
            protocol fields) and whether it is new.
        """

        def compute(history: list[SuggestionRecord]) -> tuple[dict[str, Any], dict[str, Any]]:
            policy = self._policy_for(
                self.config, self.space, self.safety, history, len(history) + 1
            )
            s = policy.ask()
            info = s.to_dict()
            info.pop("params")
            info["protocol"] = self.space.protocol_fields(s.params)
            return s.params, info

        return self.store.suggest(self.record_.id, compute)

    def record(
        self,
        nrs: float,
        side_effect: float | None = None,
        note: str = "",
        *,
        suggestion: str | SuggestionRecord,
    ) -> tuple[SuggestionRecord, bool]:
        """Store the report of one named suggestion, exactly once.

        Parameters
        ----------
        nrs : float
            Pain NRS (0-10) with the suggested protocol.
        side_effect : float or None
            Side-effect rating 0-10 (required when the session has a limit).
        note : str
            Free text kept with the report.
        suggestion : str or SuggestionRecord
            The suggestion answered: its token (``"3-1a2b3c4d"``, printed by
            ``phantomlab optimize suggest``) or the record :meth:`suggest` returned.

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion with its observation, and whether the report was stored now:
            ``False`` when the same report was already stored (a retry after a crash or
            a lost reply), which is recognised and never applied twice.

        Raises
        ------
        InputError
            For a report out of range, an unknown or mismatched token, or a suggestion
            that already holds a different report (a stale or repeated record).
        """
        problems = _check_report("nrs", nrs)
        problems += _check_report("side_effect", side_effect)
        if side_effect is None and self.config.side_effect_limit is not None:
            problems.append(
                Problem(
                    "side_effect",
                    None,
                    "0 to 10",
                    "",
                    "this session has a side-effect limit: report --side-effect",
                )
            )
        token = suggestion.token if isinstance(suggestion, SuggestionRecord) else str(suggestion)
        try:
            parse_token(token)
        except InputError as exc:
            problems = list(exc.problems) + problems
        raise_if(problems)
        return self.store.record(
            self.record_.id,
            token,
            float(nrs),
            None if side_effect is None else float(side_effect),
            note,
        )

    def status(self) -> SessionStatus:
        """History and current recommendation."""
        hist = self.store.history(self.record_.id)
        rec = None
        if any(h.observation is not None for h in hist):
            rec = self._policy_for(
                self.config, self.space, self.safety, hist, len(hist) + 1
            ).recommend()
        return SessionStatus(self.patient, self.config.modality, self.config, hist, rec)

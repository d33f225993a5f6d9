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

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phantomlab._io import save_figure
from phantomlab._result import Result
from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.devices import (
    DEFAULT_DEVICES,
    apply_device,
    load_device,
    snap_inward,
)
from phantomlab.optimize.history import plot_history
from phantomlab.optimize.policy import (
    Policy,
    PolicySettings,
    SafetyCheck,
    Suggestion,
    make_policy,
)
from phantomlab.optimize.safety import ProtocolSafety
from phantomlab.optimize.scs import SCS_POLICY
from phantomlab.optimize.space import ParameterSpace, Real, default_space
from phantomlab.optimize.storage import (
    SessionRecord,
    SessionStore,
    SuggestionRecord,
    parse_token,
)

if TYPE_CHECKING:
    import pandas as pd
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
    device : str
        Device profile whose programmable grid the suggestions are on
        (:func:`~phantomlab.optimize.devices.device_names` or a YAML path);
        ``"auto"``: the modality's default (``DEFAULT_DEVICES``), ``"none"``: no grid.
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
    device: str = "auto"

    def device_name(self) -> str | None:
        """Return the device profile in force (``None``: no grid)."""
        if self.device == "auto":
            return DEFAULT_DEVICES.get(self.modality)
        return None if self.device in ("", "none") else self.device

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
        name = self.device_name()
        if name is not None:
            sp = apply_device(sp, load_device(name))
            if sp.off_grid(sp.safe_seed):  # a session stored before its device grid
                seed = snap_inward(sp, sp.safe_seed, lambda _: True)
                sp = sp.with_seed(seed or sp.snap_point(sp.safe_seed))
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
        Every suggestion with its report (and the report's corrections).
    recommendation : Suggestion or None
        Tested protocol believed best (posterior mean) among believed-safe ones.
    space : ParameterSpace or None
        The session's space (device grid applied), for clinical units.
    """

    patient: str
    modality: str
    config: SessionConfig
    history: list[SuggestionRecord]
    recommendation: Suggestion | None
    space: ParameterSpace | None = None

    @property
    def pending(self) -> SuggestionRecord | None:
        """The suggestion waiting for a report, if any."""
        p = [h for h in self.history if h.pending]
        return p[-1] if p else None

    def to_frame(self) -> pd.DataFrame:
        """One row per suggestion: the settings tested and the report in force.

        Parameter columns hold the settings actually delivered (the suggestion's when
        none were recorded) in SI; the same settings in clinical units follow with
        unit-named columns (``amplitude_mA``). ``delivered`` says whether they differ
        from the suggestion, ``corrections`` how many times the report was corrected
        (``nrs`` and ``side_effect`` are the latest correction).
        """
        import pandas as pd

        rows = []
        base = self.config.baseline_nrs
        for h in self.history:
            o = h.observation
            cur = o.current if o is not None else None
            tested = h.tested
            row: dict[str, Any] = {
                "seq": h.seq,
                "suggested_at": h.created_at,
                "reason": h.info.get("reason", ""),
            }
            row.update(tested)
            if self.space is not None:
                row.update(
                    {k: v for k, v in self.space.clinical(tested).items() if k not in tested}
                )
            row["delivered"] = tested != h.params
            row["reported_at"] = o.created_at if o else None
            row["nrs"] = cur.nrs if cur else np.nan
            row["side_effect"] = cur.side_effect if cur and cur.side_effect is not None else np.nan
            row["nrs_change"] = (base - cur.nrs) if (cur and base is not None) else np.nan
            row["corrections"] = len(o.corrections) if o else 0
            rows.append(row)
        return pd.DataFrame(rows)

    def _show(self, params: dict[str, Any]) -> str:
        if self.space is None:
            return str(params)
        return ", ".join(f"{k} {v}" for k, v in self.space.show(params).items())

    def summary(self) -> str:
        """Text report in clinical units: settings, history, pending suggestion, recommendation."""
        df = self.to_frame()
        n_obs = int(df["nrs"].notna().sum()) if len(df) else 0
        lines = [
            f"patient {self.patient} - {self.modality} - {n_obs} report(s), "
            f"{len(self.history) - n_obs} pending",
            f"policy {self.config.policy}, acquisition {self.config.acquisition} "
            f"(kappa {self.config.kappa:g}), "
            f"side-effect limit {self.config.side_effect_limit}, "
            f"baseline NRS {self.config.baseline_nrs}, "
            f"device {self.config.device_name() or 'none (no grid)'}",
        ]
        if len(df):
            table = df.drop(columns=["suggested_at", "reported_at"])
            if self.space is not None:  # SI columns out, the unit-named ones stay
                si = [p.name for p in self.space.parameters if isinstance(p, Real) and p.unit]
                table = table.drop(columns=[c for c in si if c in table.columns])
            lines.append(table.to_string(index=False))
        if self.pending is not None:
            lines.append(
                f"pending suggestion #{self.pending.seq} (token {self.pending.token}): "
                f"{self._show(self.pending.params)}"
            )
        if self.recommendation is not None:
            r = self.recommendation
            lines.append(
                f"recommended so far: {self._show(r.params)} (predicted relief "
                f"{r.relief_mean:.2f} +/- {r.relief_sd:.2f}; side effect {r.side_effect_mean:.2f})"
            )
        lines.append("in silico decision support: a clinician decides every protocol.")
        return "\n".join(lines)

    def plot(self, ax: Any = None, path: str | Path | None = None) -> Figure:
        """History plot: settings tested and reports per visit (see :func:`plot_history`).

        Parameters
        ----------
        ax : sequence of matplotlib Axes, optional
            One Axes per panel (reports, side effect, then one per continuous
            parameter); default: a new Figure.
        path : str, Path or None
            Save the figure there (PNG, SVG, PDF by suffix).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        fig = plot_history(self, ax)
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
        db: str | Path | SessionStore | None = None,
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
        device: str = "auto",
    ) -> OptimizationSession:
        """Create a patient's session (validated) and store it.

        Parameters
        ----------
        patient : str
            Patient identifier (unique in the database).
        modality : str
            Protocol modality key with a built-in space.
        db : str, Path, SessionStore or None
            Database URL or SQLite path (default: :func:`~phantomlab.optimize.storage.default_url`),
            or a store (e.g. :meth:`SessionStore.bound` to a caller's transaction).
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
        device : str
            Device profile (:func:`~phantomlab.optimize.devices.device_names` or a YAML
            file): suggestions are on its programmable grid. ``"auto"``: the modality's
            default profile; ``"none"``: no grid.

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
        device_name = str(device).strip() or "none"
        if device_name == "auto":
            device_name = DEFAULT_DEVICES.get(space.modality, "none")
        if device_name != "none":
            space = apply_device(space, load_device(device_name))
        seed_point = space.parse(safe_seed or {})
        raise_if([replace(p, field=f"start.{p.field}") for p in space.off_grid(seed_point)])
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
            device=device_name,
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
        store = db if isinstance(db, SessionStore) else SessionStore(db)
        rec = store.create_session(patient, space.modality, config.to_dict())
        return cls(store, rec)

    @classmethod
    def open(cls, patient: str, db: str | Path | SessionStore | None = None) -> OptimizationSession:
        """Open an existing patient's session (``InputError`` for an unknown patient).

        ``db`` is a database URL or SQLite path, or a :class:`SessionStore` (e.g. one
        bound to a caller's transaction, :meth:`SessionStore.bound`).
        """
        store = db if isinstance(db, SessionStore) else SessionStore(db)
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
            cur = o.current  # the latest correction of the report, else the report
            policy.tell(h.tested, OptimizationSession._value(config, cur.nrs), cur.side_effect)
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
            params = info.pop("params")
            if self.space.off_grid(params):  # a policy that builds its own points
                snapped = snap_inward(
                    self.space,
                    params,
                    lambda pt: not self.safety.violations(self.space, pt),
                    believed_safe=getattr(policy, "believed_safe", None),
                )
                info["snapped_from"] = params
                if snapped is None:
                    snapped = dict(self.space.safe_seed)
                    info["reason"] = f"{info['reason']} (no safe grid neighbour: safe seed)"
                params = snapped
            bad = self.safety.violations(self.space, params)
            if bad:  # never store a suggestion that fails the protocol safety check
                raise InputError(bad)
            info["protocol"] = self.space.protocol_fields(params)
            info["settings"] = self.space.clinical(params)
            return params, info

        return self.store.suggest(self.record_.id, compute)

    def record(
        self,
        nrs: float,
        side_effect: float | None = None,
        note: str = "",
        *,
        suggestion: str | SuggestionRecord,
        delivered: Mapping[str, Any] | None = None,
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
        delivered : mapping or None
            Settings actually delivered where they differ from the suggestion, with
            units (``{"amplitude": "1.5 mA"}``) or SI numbers; checked against the
            space, the device grid and the protocol safety rules. The model learns
            from the delivered settings.

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
        settings = self._delivered(token, delivered)
        return self.store.record(
            self.record_.id,
            token,
            float(nrs),
            None if side_effect is None else float(side_effect),
            note,
            settings,
        )

    def _delivered(self, token: str, delivered: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Validate delivered settings against the space, the grid and safety (full point).

        The values given replace those in force: the suggestion's, or for a correction
        the settings delivered according to the current report.
        """
        if not delivered:
            return None
        seq = parse_token(token)
        base = next((h for h in self.store.history(self.record_.id) if h.seq == seq), None)
        if base is None:  # the store names the problem with the token
            return None
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for k, v in delivered.items():
            try:
                p = self.space.parameter(str(k))
                if isinstance(v, int | float) and not isinstance(v, bool) and isinstance(p, Real):
                    values[str(k)] = float(v)
                else:
                    values.update(self.space.parse({str(k): v}))
            except InputError as exc:
                problems += [replace(q, field=f"delivered.{q.field}") for q in exc.problems]
        raise_if(problems)
        point = {**base.tested, **values}
        try:
            point = self.space.validate(point)
        except InputError as exc:
            raise InputError(
                [replace(q, field=f"delivered.{q.field}") for q in exc.problems]
            ) from None
        problems = [replace(q, field=f"delivered.{q.field}") for q in self.space.off_grid(point)]
        problems += [
            replace(q, field=f"delivered.{q.field}", message=f"fails the safety check: {q.message}")
            for q in self.safety.violations(self.space, point)
        ]
        raise_if(problems)
        return point

    def correct(
        self,
        suggestion: str | SuggestionRecord,
        *,
        reason: str,
        nrs: float | None = None,
        side_effect: float | None = None,
        note: str | None = None,
        delivered: Mapping[str, Any] | None = None,
    ) -> tuple[SuggestionRecord, bool]:
        """Correct the report of a suggestion: a new row, the earlier report is kept.

        Fields not given keep their value in the report in force; the model uses the
        latest correction.

        Parameters
        ----------
        suggestion : str or SuggestionRecord
            The reported suggestion (its token).
        reason : str
            Why the report is corrected (e.g. "NRS typed as 2, patient said 7").
        nrs, side_effect : float or None
            Corrected ratings (0-10).
        note : str or None
            Corrected note.
        delivered : mapping or None
            Corrected delivered settings (as in :meth:`record`).

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion with its corrected report, and whether a correction was
            stored now (``False``: the report in force already says this - a retry).
        """
        token = suggestion.token if isinstance(suggestion, SuggestionRecord) else str(suggestion)
        seq = parse_token(token)
        problems = _check_report("nrs", nrs) + _check_report("side_effect", side_effect)
        raise_if(problems)
        h = next((x for x in self.store.history(self.record_.id) if x.seq == seq), None)
        o = None if h is None else h.observation
        if h is None or o is None:  # let the store name the problem
            return self.store.correct(self.record_.id, token, 0.0, None, "", None, reason)
        cur = o.current
        settings = self._delivered(token, delivered) if delivered else cur.delivered
        return self.store.correct(
            self.record_.id,
            token,
            float(cur.nrs if nrs is None else nrs),
            cur.side_effect if side_effect is None else float(side_effect),
            cur.note if note is None else str(note),
            settings,
            reason,
        )

    def status(self) -> SessionStatus:
        """History and current recommendation."""
        hist = self.store.history(self.record_.id)
        rec = None
        if any(h.observation is not None for h in hist):
            rec = self._policy_for(
                self.config, self.space, self.safety, hist, len(hist) + 1
            ).recommend()
        return SessionStatus(self.patient, self.config.modality, self.config, hist, rec, self.space)

"""Transcranial direct current stimulation: field-scaled M1 shift and plasticity gating.

The after-effect of one session scales with the **electric field at the
target** computed by :func:`phantomlab.fields.tdcs_field_at` for the
protocol's montage and current in the sphere head model, relative to the
field of the reference montage (anode C3, cathode Fp2, 2 mA) at the same
target. The raw current never enters the physiology, so montage and
electrode placement matter. Polarity: anodal (anode nearer the target than
the cathode) raises, cathodal lowers excitability (Sci Rep 2019
s41598-019-54621-0; mechanisms.md §4.2).

On session days tDCS also multiplies the cortical learning rate
(``plasticity_gain``), which amplifies whatever training runs concurrently
(mirror therapy, phantom movement: Kikkert 2019 Ann Neurol 85:59, Gunduz 2021);
alone it changes little. Sessions accumulate and decay (Bolognini 2015:
sustained decrease for 1 week after 5 days; Kikkert 2019: one session
relieved PLP for at least a week).

Targets outside S1/M1 (e.g. cerebellar tDCS, Bocci 2019) have no pathway in
the virtual patient: only the expectation of the course acts (Bocci 2019:
chronic PLP not different from sham).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.fields import get_target, tdcs_field_at
from phantomlab.fields.leadfield import resolve_electrode
from phantomlab.fields.sphere import default_model
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import aftereffect, get_si
from phantomlab.therapies._m1 import draw_response, m1_levers
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy, _sessions_from_schedule
from phantomlab.therapies.registry import register_therapy

__all__ = ["TDCSTherapy", "field_at_target", "resolve_montage"]

Arr = NDArray[np.float64]
_M = "tdcs"
_BOL = "Bolognini 2015 J Pain 16:657 (sustained 1 week); Kikkert 2019 Ann Neurol 85:59 (>= 1 week)"

P: dict[str, Param] = {
    "effect_ref": tparam(
        _M,
        "effect_ref",
        0.2,
        "1",
        (0.0, 0.6),
        "assumed",
        note="lasting excitability change of one 20-min session at the reference field; "
        "anodal tDCS raises MEPs for up to 90 min (mechanisms.md §4.2, dose not seen); not read",
    ),
    "duration_tau": tparam(
        _M,
        "duration_tau",
        600.0,
        "s",
        (60.0, 1800.0),
        "assumed",
        note="saturation of the after-effect with session duration (cathodal: 5-7 min "
        "minutes, 9 min up to 1 h; Clin Neurophysiol 2003 114:600); value not read",
    ),
    "tau": tparam(
        _M,
        "tau",
        7.0,
        "day",
        (1.0, 30.0),
        "assumed",
        note="decay of accumulated after-effects; relief lasts about a week (" + _BOL + ")",
    ),
    "a_max": tparam(
        _M,
        "a_max",
        0.5,
        "1",
        (0.1, 1.0),
        "assumed",
        note="saturation of accumulated excitability change; not read",
    ),
    "plasticity_gate": tparam(
        _M,
        "plasticity_gate",
        1.0,
        "1",
        (0.0, 5.0),
        "assumed",
        note="extra cortical learning rate on a session day per unit of relative anodal "
        "field (gating of concurrent training, Kikkert 2019 / Gunduz 2021); not read",
    ),
    "default_current": tparam(
        _M,
        "default_current",
        2e-3,
        "A",
        (0.5e-3, 4e-3),
        "source",
        "Gunduz 2021 registry: 2 mA, 35 cm^2 (evidence.md row 28)",
        "current when unset",
    ),
    "default_duration": tparam(
        _M,
        "default_duration",
        1200.0,
        "s",
        (300.0, 2400.0),
        "source",
        "Gunduz 2021 / Bocci 2019: 20 min sessions (evidence.md)",
        "duration when unset",
    ),
}

#: Reference montage of the relative field scale.
REF_MONTAGE = ("C3", "Fp2", 2e-3)


def _target_name(text: str | None, anode: Any) -> str | None:
    """Map a protocol target to a fields target (None: no pathway in the model)."""
    t = (text or "M1").lower()
    if "cerebell" in t or "dlpfc" in t or "ppc" in t or "parietal" in t:
        return None
    area = "s1_hand" if ("s1" in t and "m1" not in t) else "m1_hand"
    side = "left"
    if isinstance(anode, str) and anode[-1:].isdigit() and int(anode[-1]) % 2 == 0:
        side = "right"
    elif isinstance(anode, tuple) and anode[0] > 0:
        side = "right"
    return f"{area}_{side}"


def resolve_montage(protocol: ProtocolBase) -> tuple[Any, Any, str | None]:
    """Anode, cathode and fields target of a tDCS protocol (defaults filled).

    Unset electrodes default to the conventional M1-supraorbital montage
    (anode C3, cathode Fp2; C4/Fp1 on the right).

    Parameters
    ----------
    protocol : ProtocolBase
        A tDCS protocol.

    Returns
    -------
    anode, cathode : str or tuple
        Electrode names or positions (m).
    target : str or None
        Name of a :func:`phantomlab.fields.get_target` target, or ``None`` when
        the target has no pathway in the virtual patient.
    """
    anode = getattr(protocol, "anode", None)
    cathode = getattr(protocol, "cathode", None)
    target = _target_name(protocol.target, anode)
    if anode is None:
        anode = "C4" if target and target.endswith("right") else "C3"
    if cathode is None:
        cathode = "Fp1" if anode == "C4" else "Fp2"
    return anode, cathode, target


@lru_cache(maxsize=256)
def field_at_target(anode: Any, cathode: Any, current: float, target: str) -> tuple[float, float]:
    """Field magnitude at a target (V/m) and the polarity of the montage there.

    Parameters
    ----------
    anode, cathode : str or tuple
        Electrodes.
    current : float
        Current, A.
    target : str
        Fields target name.

    Returns
    -------
    magnitude : float
        ``|E|`` at the target, V/m (sphere model).
    polarity : float
        +1 if the anode is nearer the target than the cathode (anodal), else −1.
    """
    tg = get_target(target)
    e = tdcs_field_at(anode, cathode, current, tg.position)
    model = default_model()
    pa = resolve_electrode(anode, model)[1]
    pc = resolve_electrode(cathode, model)[1]
    pos = np.asarray(tg.position)
    pol = 1.0 if np.linalg.norm(pa - pos) < np.linalg.norm(pc - pos) else -1.0
    return float(e), pol


@register_therapy("tdcs")
class TDCSTherapy(Therapy):
    """Transcranial direct current stimulation; see the module docstring."""

    reference = "bolognini2015_active"
    curve_param = "current"
    curve_values = (0.0, 0.5e-3, 1e-3, 1.5e-3, 2e-3, 3e-3, 4e-3)
    curve_unit = ("mA", 1e3)
    dose_keys = ("current", "duration", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Return current (A), duration (s) and sessions."""
        return {
            "current": get_si(protocol, "current", self.p("default_current")),
            "duration": get_si(protocol, "duration", self.p("default_duration")),
            "sessions": _sessions_from_schedule(protocol, 1.0),
        }

    def prepare(self, protocol: ProtocolBase, n_patients: int, rng: Any = None,
                start_day: int = 0, dose: Any = None) -> CohortState:  # fmt: skip
        """As :meth:`Therapy.prepare`, plus the montage's field at the target."""
        st = super().prepare(protocol, n_patients, rng, start_day, dose)
        anode, cathode, target = resolve_montage(protocol)
        rel, pol = 0.0, 1.0
        if target is not None:
            e, pol = field_at_target(anode, cathode, 1.0, target)
            a, c, ref_i = REF_MONTAGE
            e_ref, _ = field_at_target(a, c, ref_i, target.replace("right", "left"))
            rel = e / e_ref  # per ampere; multiplied by the current in specific()
        st.dose["field_per_A_rel"] = rel
        st.dose["polarity"] = pol
        return st

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient responsiveness."""
        return {"response": draw_response(n, rng, self.p("m1.response_log_sd"))}

    def relative_field(self, state: CohortState) -> float:
        """Field at the target relative to the reference montage (1 = C3-Fp2 at 2 mA)."""
        return state.dose["field_per_A_rel"] * state.dose["current"]

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """M1 levers of the accumulated after-effect, plasticity gain on session days."""
        cal = state.calendar
        if t < 0 or cal.n_sessions == 0:
            return {}
        rel = self.relative_field(state)
        tau_d = self.p("duration_tau")
        h = (1 - np.exp(-state.dose["duration"] / tau_d)) / (1 - np.exp(-1200.0 / tau_d))
        per = state.dose["polarity"] * self.p("effect_ref") * rel * h * state.draws["response"]
        a = aftereffect(cal, t, per, self.p("tau"), self.p("a_max"))
        out = m1_levers(a, self.p("m1.descending_per_facilitation"))
        if cal.is_on(t) and state.dose["polarity"] > 0:
            out["plasticity_gain"] = 1.0 + self.p("plasticity_gate") * rel * h * np.ones(
                state.n_patients
            )
        return out

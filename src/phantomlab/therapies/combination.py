"""Combinations: protocols applied together, interacting only through the mechanisms.

Each component is simulated by its own therapy; their levers are combined by
:data:`~phantomlab.therapies.base.LEVER_RULES` (rates add, fractions combine
as independent probabilities, gains multiply). No interaction term is set by
hand: e.g. tDCS's plasticity gain multiplies the learning driven by the
mirror's visual feedback inside the virtual patient (Gunduz 2021 found no
significant tDCS x mirror interaction, F = 1.90, p = 0.13; evidence.md row 28).
The course carries one expectation component (one blinded course).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab._rng import RNGLike, as_generator
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies.base import Calendar, CohortState, Therapy, combine_levers
from phantomlab.therapies.registry import register_therapy

__all__ = ["CombinationTherapy"]

Arr = NDArray[np.float64]


@register_therapy("combination")
class CombinationTherapy(Therapy):
    """Concurrent protocols; see the module docstring."""

    reference = "gunduz2021_active_tdcs_active_mt"
    curve_param = "sessions"
    curve_values = (0.0, 5.0, 10.0, 20.0)
    curve_unit = ("sessions", 1.0)
    dose_keys = ("sessions",)
    PARAMS: ClassVar[dict[str, Param]] = {}

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Nothing of its own (each component resolves its dose)."""
        return {}

    def prepare(
        self,
        protocol: ProtocolBase,
        n_patients: int,
        rng: RNGLike = None,
        start_day: int = 0,
        dose: Any = None,
    ) -> CohortState:
        """Prepare every component (``dose`` overrides go to components that accept them)."""
        from phantomlab.therapies.registry import therapy_for

        self.check(protocol)
        gen = as_generator(rng)
        st = super().prepare(protocol, n_patients, gen, start_day, None)
        comps = []
        for comp in protocol.components:  # type: ignore[attr-defined]
            th = therapy_for(comp)
            over = {k: v for k, v in (dose or {}).items() if k in th.dose_keys}
            comps.append(th.prepare(comp, n_patients, gen, start_day, over or None))
        last = max((c.calendar.last_day for c in comps), default=-1.0)
        on = None if not np.isfinite(last) else max(int(last) + 1, 0)
        cal = Calendar(np.zeros(0, np.int64), np.zeros(0), True, on)
        return CohortState(n_patients, int(start_day), st.dose, cal, st.draws, tuple(comps),
                           "combination")  # fmt: skip

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """Return the combined specific levers of the components."""
        from phantomlab.therapies.registry import get_therapy

        parts = [get_therapy(c.modality).specific(c, t) for c in state.components]
        out = combine_levers(parts, state.n_patients)
        out.pop("expectation")
        return out

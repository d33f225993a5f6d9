"""Electric-field physics for tDCS, TMS and temporal interference (TI).

* :mod:`~phantomlab.fields.sphere` -- concentric multi-shell sphere, analytic
  potential and E-field of scalp point electrodes (Rush & Driscoll series).
* :mod:`~phantomlab.fields.electrodes` -- 10-20/10-10 caps from MNE's bundled
  montages, named PLP targets.
* :mod:`~phantomlab.fields.leadfield` -- lead fields, montages by superposition,
  :func:`tdcs_field_at` / :func:`ti_field_at` for therapies.
* :mod:`~phantomlab.fields.tms` -- magnetic-dipole coils over a sphere.
* :mod:`~phantomlab.fields.ti` -- TI envelopes (Grossman et al. 2017).
* :mod:`~phantomlab.fields.fem` -- independent FEM check (gmsh + scikit-fem).
* :mod:`~phantomlab.fields.optimize` -- tDCS LP and exact TI search.

SI units throughout (m, A, V, V/m, S/m). ``fields`` depends on the core only.
"""

from phantomlab.fields.electrodes import (
    CAPS,
    TARGETS,
    Cap,
    Target,
    get_cap,
    get_target,
    parse_target,
)
from phantomlab.fields.leadfield import (
    LeadField,
    brain_points,
    compute_leadfield,
    tdcs_field,
    tdcs_field_at,
    ti_field,
    ti_field_at,
)
from phantomlab.fields.optimize import (
    DEFAULT_SPLITS,
    TDCSOptimum,
    TIOptimum,
    enumerate_ti_montages,
    optimize_tdcs,
    optimize_ti,
    ti_objective_loop,
)
from phantomlab.fields.result import FieldResult, focality_ratio
from phantomlab.fields.sphere import (
    SphereModel,
    default_model,
    homogeneous_monopole,
    monopole_fields,
)
from phantomlab.fields.targets import optimize_tdcs_for_target, optimize_ti_for_target
from phantomlab.fields.ti import directional_envelope, max_envelope, max_envelope_from_gram
from phantomlab.fields.tms import figure8_coil, tms_efield, tms_field

__all__ = [
    "CAPS",
    "DEFAULT_SPLITS",
    "TARGETS",
    "Cap",
    "FieldResult",
    "LeadField",
    "SphereModel",
    "TDCSOptimum",
    "TIOptimum",
    "Target",
    "brain_points",
    "compute_leadfield",
    "default_model",
    "directional_envelope",
    "enumerate_ti_montages",
    "figure8_coil",
    "focality_ratio",
    "get_cap",
    "get_target",
    "homogeneous_monopole",
    "max_envelope",
    "max_envelope_from_gram",
    "monopole_fields",
    "optimize_tdcs",
    "optimize_tdcs_for_target",
    "optimize_ti",
    "optimize_ti_for_target",
    "parse_target",
    "tdcs_field",
    "tdcs_field_at",
    "ti_field",
    "ti_field_at",
    "ti_objective_loop",
    "tms_efield",
    "tms_field",
]

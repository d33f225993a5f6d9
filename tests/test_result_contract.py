"""One contract for every public result type (as scikit-learn's ``test_common.py``).

Discovered: every class named ``*Result`` in the ``__all__`` of a public phantomlab
module, plus every subclass of :class:`phantomlab._result.Result`. Each needs a factory
below that builds a real instance cheaply through the public API; a new result type
without one fails :func:`test_every_result_type_has_a_factory`.

Checks: a ``Result`` subclass; ``summary()`` a non-empty str; ``to_frame()`` a
DataFrame; ``plot()`` a matplotlib Figure; ``repr`` one line of at most
``REPR_MAX`` characters; ``_repr_html_()`` an HTML string.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import phantomlab
from phantomlab._result import REPR_MAX, Result
from phantomlab.trials import nnt

LEAVES = {"cli", "report", "web"}


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(phantomlab.__path__, "phantomlab."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] in LEAVES:
            continue
        names.append(info.name)
    return names


def _key(cls: type) -> str:
    """``subpackage.ClassName`` (``bci.CourseResult`` and ``therapies.CourseResult`` differ)."""
    return f"{cls.__module__.split('.')[1]}.{cls.__name__}"


@cache
def _discover() -> dict[str, type]:
    found: dict[str, type] = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr, None)
            if inspect.isclass(obj) and obj.__name__.endswith("Result") and obj is not Result:
                found[_key(obj)] = obj
    stack = list(Result.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__module__.startswith("phantomlab.") and not inspect.isabstract(cls):
            found[_key(cls)] = cls
    return found


# --------------------------------------------------------------------------- factories
def _fn(name: str) -> Any:
    """A public function of the meta-analysis engine or the evidence synthesis."""
    for module in ("phantomlab.meta", "phantomlab.evidence"):
        obj = getattr(importlib.import_module(module), name, None)
        if obj is not None:
            return obj
    raise LookupError(name)


YI = np.array([-0.8, -0.3, -1.2, -0.1, -0.6, -0.9, -0.4])
VI = np.array([0.10, 0.05, 0.20, 0.04, 0.08, 0.15, 0.06])


@cache
def _rma() -> Any:
    return _fn("rma")(YI, VI)


@cache
def _synthesis() -> Any:
    return _fn("synthesize")(outcomes=["pain"])


def _field() -> Any:
    from phantomlab.fields import get_target, tdcs_field

    pts = np.random.default_rng(0).normal(0.0, 0.03, (200, 3))
    pts = pts[np.linalg.norm(pts, axis=1) < 0.07]
    target = get_target("m1_hand_left").position
    return tdcs_field("C3", "Fp2", 2e-3, pts, target=target, roi_radius=0.01)


def _lead_field(n_el: int, n_pts: int) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 1.0, (n_el, n_pts, 3))


def _tdcs_optimum() -> Any:
    from phantomlab.fields.optimize import optimize_tdcs

    names = [f"E{i}" for i in range(6)]
    return optimize_tdcs(_lead_field(6, 10), names, [0.0, 0.0, 1.0])


def _ti_optimum() -> Any:
    from phantomlab.fields.optimize import optimize_ti

    names = [f"E{i}" for i in range(5)]
    roi = np.zeros(40, bool)
    roi[:8] = True
    return optimize_ti(_lead_field(5, 40), names, roi)


@cache
def _chronic_cohort() -> Any:
    from phantomlab.mechanisms import Cohort

    c = Cohort(2, "persistence", rng=5)
    c.run(60)
    return c


def _decoding() -> Any:
    from phantomlab.bci import decode, simulate_epochs
    from phantomlab.bci.activity import patient_activity

    act = patient_activity(_chronic_cohort(), "left")
    epochs = simulate_epochs(act.scaled(2.0), ("rest", "phantom"), 20, rng=1)
    return decode(epochs, "csp-lda", n_folds=3)


def _bci_course() -> Any:
    from phantomlab.bci import BCICourse, run_course
    from phantomlab.mechanisms import Cohort

    cohort = Cohort(2, "persistence", rng=9)
    cohort.run(30)
    course = BCICourse(training_days=1, follow_up_days=1, calibration_epochs=10, feedback_trials=10)
    return run_course(cohort, course, run_in_days=2, rng=9)


def _trajectory() -> Any:
    from phantomlab.mechanisms import Cohort

    return Cohort(5, rng=1).run(30)


def _course() -> Any:
    from phantomlab.protocols import get_reference
    from phantomlab.therapies import simulate_course

    protocol = get_reference("bolognini2013_active")
    return simulate_course(protocol, n_patients=5, days=10, warmup_days=30)


def _dose_response() -> Any:
    from phantomlab.therapies import dose_response

    return dose_response("scs", n_patients=4, values=[1e-3, 3e-3], warmup_days=30)


def _population() -> Any:
    from phantomlab.cohorts import VirtualCohort, default_cohort_spec
    from phantomlab.cohorts.spec import Provenanced

    spec = default_cohort_spec().model_copy(
        update={"max_warmup_years": Provenanced(value=0.2, kind="assumed", note="fast tests")}
    )
    return VirtualCohort(spec, 12, seed=1).population


TDCS_YAML = (
    "modality: tdcs\nanode: C3\ncathode: Fp2\ncurrent: 2 mA\nelectrode_area: 35 cm^2\n"
    "duration: 20 min\nschedule: {sessions: 10, per_week: 5}\n"
)


def _dose() -> Any:
    from phantomlab.protocols import compute_dose, load_protocol

    return compute_dose(load_protocol(TDCS_YAML))


def _safety() -> Any:
    from phantomlab.protocols import check_protocol, load_protocol

    return check_protocol(load_protocol(TDCS_YAML))


def _policies() -> Any:
    from phantomlab.optimize import (
        ProtocolSafety,
        RandomSearch,
        VirtualSCSPopulation,
        best_protocols,
        run_policies,
    )

    pop = VirtualSCSPopulation(2, rng=1)
    spaces = pop.clinical_spaces()
    safety = ProtocolSafety()
    best = best_protocols(pop, 3.0, safety, levels=4)
    policy = {"random": lambda i, g: RandomSearch(spaces[i], safety, g, 3.0)}
    return run_policies(pop, policy, 3, 3.0, safety, best, rng=0)


def _session_status() -> Any:
    import tempfile
    from pathlib import Path

    from phantomlab.optimize import OptimizationSession

    db = Path(tempfile.mkdtemp()) / "status.sqlite"
    s = OptimizationSession.new("p1", "scs", db=db, baseline_nrs=7.0)
    rec, _ = s.suggest()
    s.record(5, 1, suggestion=rec)
    return s.status()


@cache
def _trial_data() -> tuple[Any, Any]:
    from phantomlab.trials import ParametricTrialModel, example_design

    design = example_design("multicenter_sham")
    return design, ParametricTrialModel(design).simulate(30, 123)


def _trial() -> Any:
    from phantomlab.trials import analyze

    design, data = _trial_data()
    return analyze(data, design)


def _mi() -> Any:
    from phantomlab.trials import prepare, to_wide
    from phantomlab.trials.imputation import multiple_imputation

    design, data = _trial_data()
    return multiple_imputation(to_wide(prepare(data, design), design), design, m=5, seed=1)


def _tipping() -> Any:
    from phantomlab.trials.tipping import tipping_point

    mi = _mi()
    return tipping_point(
        mi.imputations.wide, _trial_data()[0], [0, 1, 2], imputations=mi.imputations
    )


def _sar_data() -> tuple[Any, Any]:
    """The worked REDCap example of docs/trials.md (examples/sar), read through its mapping."""
    from phantomlab.trials import load_design
    from phantomlab.trials.dataio import read_trial_data

    ex = Path(__file__).resolve().parents[1] / "examples" / "sar"
    design = load_design(ex / "design.yaml")
    table = pd.read_csv(ex / "redcap_export.csv")
    return design, read_trial_data(table, design, mapping=ex / "mapping.yaml")


def _power() -> Any:
    from phantomlab.trials import example_design, power_curve

    return power_curve(example_design("multicenter_sham"), [20, 40], n_sims=20, rng=1)


def _chunk(seed: np.random.SeedSequence, reps: np.ndarray) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    return pd.DataFrame({"replicate": reps, "value": g.normal(size=len(reps))})


def _run() -> Any:
    from phantomlab.trials import run_replicates

    return run_replicates(_chunk, 6, seed=1, chunk_size=3)


def _spec(study_id: str) -> Any:
    from phantomlab.trials.specs import load_trial_spec

    return load_trial_spec(study_id)


def _replication() -> Any:
    from phantomlab.cohorts import default_cohort_spec
    from phantomlab.cohorts.spec import Provenanced
    from phantomlab.trials.replicate import replicate
    from phantomlab.trials.specs import load_trial_spec

    fast = default_cohort_spec().model_copy(
        update={"max_warmup_years": Provenanced(value=0.4, kind="assumed", note="fast tests")}
    )
    spec = load_trial_spec("kikkert2019")
    return replicate(spec, replicates=2, seed=3, cohort=fast, params={}, chunk_size=2, pool=20)


def _randomization() -> Any:
    from phantomlab.trials import example_design, randomize

    return randomize(example_design("multicenter_sham"), 4)


#: subpackage.ClassName (or ClassName, any subpackage) -> factory
FACTORIES: dict[str, Callable[[], Any]] = {
    "fields.FieldResult": _field,
    "fields.TDCSOptimum": _tdcs_optimum,
    "fields.TIOptimum": _ti_optimum,
    "bci.DecodingResult": _decoding,
    "bci.CourseResult": _bci_course,
    "mechanisms.Trajectory": _trajectory,
    "therapies.CourseResult": _course,
    "therapies.DoseResponse": _dose_response,
    "cohorts.VirtualPopulation": _population,
    "protocols.DoseMetrics": _dose,
    "protocols.SafetyReport": _safety,
    "optimize.SimulationResult": _policies,
    "optimize.SessionStatus": _session_status,
    # trials (converted to Result by the trials work)
    "TrialResult": _trial,
    "PowerResult": _power,
    "SampleSizeResult": lambda: importlib.import_module("phantomlab.trials").sample_size(
        effect_size=0.5, dropout=0.1
    ),
    "SampleSizeCurve": lambda: importlib.import_module("phantomlab.trials").sample_size_curve(
        [10, 20, 40], effect_size=0.5
    ),
    "RunResult": _run,
    "trials.MIResult": _mi,
    "trials.Imputations": lambda: _mi().imputations,
    "trials.TippingResult": _tipping,
    "trials.TrialData": lambda: _sar_data()[1],
    "trials.StatisticalAnalysis": lambda: importlib.import_module(
        "phantomlab.trials.sar"
    ).statistical_analysis(_sar_data()[1], _sar_data()[0]),
    "trials.TwoByTwo": lambda: importlib.import_module("phantomlab.trials.responders").two_by_two(
        12, 40, 5, 40
    ),
    "ReplicationResult": _replication,
    "RandomizationResult": _randomization,
    "trials.ValidationResult": lambda: importlib.import_module(
        "phantomlab.trials.validation"
    ).validate(specs=[_spec("kikkert2019")], pool=40, n_trials=50),
    # real indices come from tests/trials/test_sensitivity.py; here the Result API only
    "trials.SensitivityResult": lambda: importlib.import_module(
        "phantomlab.trials.sensitivity"
    ).SensitivityResult(
        [
            {
                "target": "a/b/c",
                "parameter": p,
                "low": 0.0,
                "high": 1.0,
                "S1": s1,
                "S1_conf": 0.1,
                "ST": s1 + 0.05,
                "ST_conf": 0.1,
            }
            for p, s1 in (("x", 0.6), ("y", 0.2))
        ],
        {"n": 8, "seed": 0, "pool": 40, "ranges": "prior", "n_simulations": 32},
    ),  # fmt: skip
    "AllocationList": _randomization,
    # meta-analysis / evidence (converted to Result by the meta work)
    "RMAResult": _rma,
    "BatchResult": lambda: _fn("rma_batch")(np.vstack([YI, YI[::-1]]), np.vstack([VI, VI])),
    "RegtestResult": lambda: _rma().regtest(),
    "TrimfillResult": lambda: _rma().trimfill(),
    "RanktestResult": lambda: _rma().ranktest(),
    "ConfintResult": lambda: _rma().confint(),
    "Leave1outResult": lambda: _rma().leave1out(),
    "InfluenceResult": lambda: _rma().influence(),
    "SubgroupResult": lambda: _fn("rma_subgroups")(YI, VI, list("aaabbbb")),
    "MHResult": lambda: _fn("rma_mh")([4, 6, 3], [119, 300, 228], [11, 29, 11], [128, 274, 209]),
    "TSAResult": lambda: _fn("tsa")(YI, VI, np.full(7, 100.0), control_rate=0.2, rrr=0.25),
    "SynthesisResult": _synthesis,
    "GroupResult": lambda: _synthesis().group("pain", "rTMS"),
    "NNT": lambda: nnt(12, 20, 5, 20),
    "RiskOfBias": lambda: _fn("load_rob")(),
    "GradeResult": lambda: _fn("summary_of_findings")().ratings[2],
    "SummaryOfFindings": lambda: _fn("summary_of_findings")(),
    "NMAResult": lambda: _nma(),
    "Inconsistency": lambda: _nma().inconsistency,
    "ReviewResult": lambda: importlib.import_module("phantomlab.evidence.review").review(),
    "RiSweepResult": lambda: _fn("ri_sweep")(
        "MC",
        m1i=[4.1, 5.2, 3.8],
        sd1i=[1.9, 2.2, 1.6],
        m2i=[5.3, 5.9, 5.6],
        sd2i=[2.1, 1.8, 1.9],
        ni=[8, 12, 10],
        ri=[0.2, 0.5, 0.8],
    ),
}


def _nma() -> Any:
    import pandas as pd

    arms = pd.read_csv(Path(__file__).parent / "meta/metafor_reference/nma/hasselblad1998_arms.csv")
    return _fn("nma_arms")(arms.study, arms.trt, events=arms.xi, n=arms.ni)


def _factory(key: str) -> Callable[[], Any] | None:
    return FACTORIES.get(key) or FACTORIES.get(key.split(".", 1)[1])


def test_every_result_type_has_a_factory() -> None:
    missing = sorted(k for k in _discover() if _factory(k) is None)
    assert not missing, f"add a factory to tests/test_result_contract.py for: {missing}"


def test_known_result_types_are_discovered() -> None:
    found = set(_discover())
    for key in ("fields.FieldResult", "bci.CourseResult", "therapies.CourseResult"):
        assert key in found
    assert any(k.endswith(".RMAResult") for k in found)
    assert any(k.endswith(".TrialResult") for k in found)


@pytest.mark.parametrize("key", sorted(_discover()))
def test_result_contract(key: str) -> None:
    cls = _discover()[key]
    factory = _factory(key)
    assert factory is not None, f"no factory for {key}"
    res = factory()
    assert isinstance(res, cls), (key, type(res))
    assert isinstance(res, Result), f"{key} does not subclass phantomlab._result.Result"
    text = res.summary()
    assert isinstance(text, str) and text.strip(), f"{key}.summary() is empty"
    assert isinstance(res.to_frame(), pd.DataFrame), f"{key}.to_frame() is not a DataFrame"
    fig = res.plot()
    assert isinstance(fig, Figure), f"{key}.plot() returned {type(fig).__name__}, not a Figure"
    text = repr(res)
    assert "\n" not in text and len(text) <= REPR_MAX, f"{key} repr: {text!r}"
    html = res._repr_html_()
    assert isinstance(html, str) and html.lstrip().startswith("<"), f"{key}._repr_html_()"

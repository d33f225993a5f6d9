"""Trial statistics: designs, randomization, analysis, power and a scalable runner.

The same analysis code serves real trial data and simulated trials. Submodules:

* :mod:`~phantomlab.trials.design` -- validated, YAML-loadable trial designs;
* :mod:`~phantomlab.trials.designs` -- one strategy object per design (parallel,
  crossover, factorial, ...), registered by name with :func:`register_design`;
* :mod:`~phantomlab.trials.randomize` -- permuted blocks, minimization, sealed lists;
* :mod:`~phantomlab.trials.analysis` -- change, ANCOVA, mixed models, responders, NNT, CONSORT;
* :mod:`~phantomlab.trials.responders` -- responder 2x2 measures with exact/score intervals;
* :mod:`~phantomlab.trials.imputation` -- multiple imputation, Rubin's rules;
* :mod:`~phantomlab.trials.tipping` -- delta-adjusted tipping-point analysis (MNAR);
* :mod:`~phantomlab.trials.simulate` -- a vectorized parametric trial simulator;
* :mod:`~phantomlab.trials.power` -- analytic and simulated power;
* :mod:`~phantomlab.trials.samplesize` -- analytic sample-size solver and power curves;
* :mod:`~phantomlab.trials.runner` -- chunked, seeded, resumable runs on Dask.
"""

from phantomlab.trials.analysis import (
    NNT,
    analyze,
    ancova,
    change_from_baseline,
    consort_counts,
    crossover_analysis,
    factorial_analysis,
    mixed_model,
    mmrm,
    nnt,
    nnt_from_risk_difference,
    prepare,
    responder_analysis,
    to_wide,
)
from phantomlab.trials.design import TrialDesign, design_schema, example_design, load_design
from phantomlab.trials.designs import (
    CrossoverDesign,
    Design,
    FactorialDesign,
    ParallelDesign,
    design_names,
    get_design,
    register_design,
)
from phantomlab.trials.power import (
    PowerResult,
    analytic_power,
    batched_ancova,
    parse_n_range,
    power_curve,
    simulated_power,
)
from phantomlab.trials.randomize import (
    AllocationList,
    minimize,
    permuted_blocks,
    randomize,
    simple_randomization,
    verify_allocation_list,
)
from phantomlab.trials.result import TrialResult
from phantomlab.trials.runner import RunResult, TrialSimulationTask, run_replicates
from phantomlab.trials.samplesize import (
    SampleSizeCurve,
    SampleSizeResult,
    sample_size,
    sample_size_curve,
)
from phantomlab.trials.simulate import ParametricTrialModel

__all__ = [
    "NNT",
    "AllocationList",
    "CrossoverDesign",
    "Design",
    "FactorialDesign",
    "ParallelDesign",
    "ParametricTrialModel",
    "PowerResult",
    "RunResult",
    "SampleSizeCurve",
    "SampleSizeResult",
    "TrialDesign",
    "TrialResult",
    "TrialSimulationTask",
    "analytic_power",
    "analyze",
    "ancova",
    "batched_ancova",
    "change_from_baseline",
    "consort_counts",
    "crossover_analysis",
    "design_names",
    "design_schema",
    "example_design",
    "factorial_analysis",
    "get_design",
    "load_design",
    "minimize",
    "mixed_model",
    "mmrm",
    "nnt",
    "nnt_from_risk_difference",
    "parse_n_range",
    "permuted_blocks",
    "power_curve",
    "prepare",
    "randomize",
    "register_design",
    "responder_analysis",
    "run_replicates",
    "sample_size",
    "sample_size_curve",
    "simple_randomization",
    "simulated_power",
    "to_wide",
    "verify_allocation_list",
]

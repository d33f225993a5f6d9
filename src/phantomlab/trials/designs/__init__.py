"""Trial designs as strategy objects, found by the ``design:`` name of a design spec.

:class:`Design` is the strategy a design implements (structural validation,
what is randomized, data layout, ``simulate``, ``analyze``, ``power``);
:func:`register_design` registers one under its name and :func:`get_design`
finds it. Built in:

* ``parallel`` -- :class:`ParallelDesign`, parallel groups against a control arm;
* ``crossover`` -- :class:`CrossoverDesign`, sequences of arms over periods;
* ``factorial`` -- :class:`FactorialDesign`, 2x2 factorial;
* ``single_arm`` -- :class:`SingleArmDesign`, published single-arm studies
  (trial specs for in-silico replication only).

A new design is one subclass decorated with ``@register_design("name")``;
``docs/trials.md`` ("Adding a design") walks through an example.
"""

from phantomlab.trials.designs.crossover import CrossoverDesign
from phantomlab.trials.designs.factorial import FactorialDesign
from phantomlab.trials.designs.parallel import ParallelDesign, SingleArmDesign
from phantomlab.trials.strategy import Design, design_names, get_design, register_design

__all__ = [
    "CrossoverDesign",
    "Design",
    "FactorialDesign",
    "ParallelDesign",
    "SingleArmDesign",
    "design_names",
    "get_design",
    "register_design",
]

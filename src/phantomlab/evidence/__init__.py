"""The PLP evidence base: published studies of neuromodulation for phantom limb pain.

Study records
    :func:`load_studies` reads the validated table (``data/plp_studies.csv``, one row
    per arm, outcome and time point, each with its citation) into a
    :class:`StudyTable` of :class:`StudyRecord` rows; :class:`Study` groups the rows of
    one study; :class:`Caveat` is a flag a row carries (secondary source, crossover...).
Synthesis
    :func:`select` picks comparable arms (one comparison per study and analysis, by
    written rules, every unused row listed with its reason); :func:`synthesize` pools
    them per group with the generic engine :mod:`phantomlab.meta` and returns a
    :class:`SynthesisResult` of :class:`GroupResult` (text, tables, forest plot).

Risk of bias and certainty
    :func:`load_rob` reads the RoB 2 and ROBINS-I records (:class:`RiskOfBias`; the
    RoB 2 algorithm runs on every row); :func:`grade` rates one outcome
    (:class:`OutcomeEvidence`) with GRADE (:class:`GradeResult`);
    :func:`summary_of_findings` lays the ratings out (:class:`SummaryOfFindings`).

The meta-analysis itself (``escalc``, ``rma``, ``forest``...) lives in
:mod:`phantomlab.meta`, which knows nothing of PLP.
"""

from __future__ import annotations

from phantomlab.evidence.grade import GradeResult, OutcomeEvidence, grade
from phantomlab.evidence.records import (
    COLUMNS,
    CONTROL_ARMS,
    MODALITIES,
    STATS,
    Caveat,
    Study,
    StudyRecord,
    StudyTable,
    default_path,
    load_studies,
    protocol_name,
)
from phantomlab.evidence.rob import RiskOfBias, load_rob
from phantomlab.evidence.sof import SummaryOfFindings, summary_of_findings
from phantomlab.evidence.synthesis import (
    BY,
    OUTCOMES,
    Comparison,
    Exclusion,
    GroupResult,
    OutcomeSpec,
    SynthesisResult,
    combine_arms,
    select,
    synthesize,
)

__all__ = [
    "BY",
    "COLUMNS",
    "CONTROL_ARMS",
    "MODALITIES",
    "OUTCOMES",
    "STATS",
    "Caveat",
    "Comparison",
    "Exclusion",
    "GradeResult",
    "GroupResult",
    "OutcomeEvidence",
    "OutcomeSpec",
    "RiskOfBias",
    "Study",
    "StudyRecord",
    "StudyTable",
    "SummaryOfFindings",
    "SynthesisResult",
    "combine_arms",
    "default_path",
    "grade",
    "load_rob",
    "load_studies",
    "protocol_name",
    "select",
    "summary_of_findings",
    "synthesize",
]

"""The standard protocol language: every modality, units, dose and safety.

A protocol is a frozen pydantic model selected by its ``modality`` key (``scs``,
``drg``, ``pns``, ``dbs``, ``mcs``, ``rtms``, ``tdcs``, ``ti``, ``mirror``, ``bci``,
``pme``, ``combination``, ``sham``): the one vocabulary of modality keys
(:data:`MODALITIES`). Each class carries its own dose, safety quantities, reporting
items and tunable parameters; a new modality is one class decorated with
:func:`register_protocol`. Quantities are written with units and stored in SI. See
``docs/protocols.md``.

Examples
--------
>>> from phantomlab.protocols import load_protocol
>>> p = load_protocol({"modality": "tdcs", "current": "2 mA", "duration": "20 min"})
>>> p.dose().charge_per_session_C
2.4
"""

from phantomlab.protocols._base import ProtocolBase, Schedule
from phantomlab.protocols._types import Count, Current, Duration, Frequency, quantity_type
from phantomlab.protocols.behavioural import BCI, PME, Mirror
from phantomlab.protocols.bounds import ParameterBound, parameter_bounds
from phantomlab.protocols.dose import DOSE_KEYS, DoseMetrics, compute_dose, shannon_k
from phantomlab.protocols.electrical import DBS, DRG, MCS, PNS, SCS, PulsedElectrical
from phantomlab.protocols.io import (
    dump_protocol,
    load_protocol,
    protocol_schema,
    protocol_to_dict,
)
from phantomlab.protocols.library import (
    ReferenceEntry,
    get_reference,
    list_reference,
    reference_entry,
    reference_for_study,
    reference_name,
)
from phantomlab.protocols.models import Combination, Protocol, Sham
from phantomlab.protocols.noninvasive import RTMS, TDCS, TI, TIPair
from phantomlab.protocols.registry import (
    MODALITIES,
    modality_keys,
    modality_label,
    model_for,
    protocol_adapter,
    register_protocol,
    unregister_protocol,
)
from phantomlab.protocols.reporting import ReportItem, reporting_checklist
from phantomlab.protocols.rules import SafetyRule
from phantomlab.protocols.safety import (
    RuleOutcome,
    SafetyReport,
    check_protocol,
    protocol_quantities,
    require_safe,
    safety_rules,
    safety_table,
)
from phantomlab.protocols.search import SearchSpec, Tunable

__all__ = [
    "BCI",
    "DBS",
    "DOSE_KEYS",
    "DRG",
    "MCS",
    "MODALITIES",
    "PME",
    "PNS",
    "ParameterBound",
    "RTMS",
    "SCS",
    "TDCS",
    "TI",
    "Combination",
    "Count",
    "Current",
    "DoseMetrics",
    "Duration",
    "Frequency",
    "Mirror",
    "Protocol",
    "ProtocolBase",
    "PulsedElectrical",
    "ReferenceEntry",
    "ReportItem",
    "RuleOutcome",
    "SafetyReport",
    "SafetyRule",
    "Schedule",
    "SearchSpec",
    "Sham",
    "TIPair",
    "Tunable",
    "check_protocol",
    "compute_dose",
    "dump_protocol",
    "get_reference",
    "list_reference",
    "load_protocol",
    "modality_keys",
    "modality_label",
    "model_for",
    "parameter_bounds",
    "protocol_quantities",
    "protocol_adapter",
    "protocol_schema",
    "protocol_to_dict",
    "reference_entry",
    "reference_for_study",
    "reference_name",
    "register_protocol",
    "reporting_checklist",
    "require_safe",
    "safety_rules",
    "safety_table",
    "shannon_k",
    "quantity_type",
    "unregister_protocol",
]

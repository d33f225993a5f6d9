"""What a publication must report for each modality, and what a protocol lacks.

Two lists per modality: parameters **required** to deliver the protocol (without
them the dose is undetermined), and parameters a publication should also
**report** so the study can be compared, pooled and repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols.electrical import PulsedElectrical
from phantomlab.protocols.models import TI, Combination, Sham
from phantomlab.protocols.noninvasive import RTMS

__all__ = ["ReportItem", "missing_required", "reporting_checklist"]

_ELECTRICAL_REQ = ("pulse_width", "frequency", "contact_area")
_ELECTRICAL_REP = ("pulse_shape", "duration", "target", "schedule.sessions")

#: modality -> (required fields, further fields to report)
CHECKLIST: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tdcs": (
        ("anode", "cathode", "current", "electrode_area", "duration"),
        ("ramp_up", "ramp_down", "target", "schedule.sessions", "schedule.per_week"),
    ),
    "rtms": (
        ("frequency", "intensity"),
        ("coil", "target", "trains", "train_duration", "inter_train_interval", "duration")
        + ("schedule.sessions",),
    ),
    "ti": (
        ("pairs", "duration"),
        ("electrode_area", "current_convention", "ramp_up", "target", "schedule.sessions"),
    ),
    "scs": (_ELECTRICAL_REQ + ("vertebral_level",), _ELECTRICAL_REP + ("waveform", "lead")),
    "drg": (_ELECTRICAL_REQ + ("level",), _ELECTRICAL_REP + ("side", "waveform")),
    "pns": (_ELECTRICAL_REQ + ("nerves",), _ELECTRICAL_REP + ("approach", "waveform")),
    "dbs": (_ELECTRICAL_REQ + ("nuclei",), _ELECTRICAL_REP + ("side", "contact_config")),
    "mcs": (_ELECTRICAL_REQ + ("placement",), _ELECTRICAL_REP + ("side", "contact_config")),
    "mirror": (("duration",), ("variant", "setting", "supervised", "schedule.sessions")),
    "bci": (
        ("recording", "decoder_trained_on"),
        ("feedback", "duration", "schedule.sessions"),
    ),
    "pme": (("duration",), ("emg_channels", "feedback", "schedule.sessions")),
    "combination": (("components",), ("timing", "schedule.sessions")),
    "sham": (("of", "method"), ("active_duration",)),
}


def _get(p: ProtocolBase, path: str) -> Any:
    obj: Any = p
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def missing_required(protocol: ProtocolBase) -> list[tuple[str, str]]:
    """Return the parameters missing to deliver a protocol.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol (components of a combination are checked separately).

    Returns
    -------
    list of (str, str)
        (field, what is needed).
    """
    required, _ = CHECKLIST.get(protocol.modality_key(), ((), ()))
    out: list[tuple[str, str]] = []
    for name in required:
        if name == "pulse_width" and isinstance(protocol, PulsedElectrical):
            if protocol.pulse_shape == "sinusoidal":
                continue
        if _get(protocol, name) is None:
            out.append((name, "a value"))
    if isinstance(protocol, PulsedElectrical) and protocol.amplitude is None:
        if protocol.voltage is None:
            out.append(("amplitude", "amplitude (or voltage and impedance)"))
        elif protocol.impedance is None:
            out.append(("impedance", "impedance, to turn the voltage into a current"))
    if isinstance(protocol, RTMS) and protocol.dose().pulses_per_session is None:
        out.append(
            (
                "pulses_per_session",
                "pulses_per_session, or trains with pulses_per_train or train_duration",
            )
        )
    if isinstance(protocol, TI) and protocol.pairs is not None:
        for i, pair in enumerate(protocol.pairs):
            for name in ("current", "frequency"):
                if getattr(pair, name) is None:
                    out.append((f"pairs.{i}.{name}", "a value"))
    if isinstance(protocol, Sham) and protocol.of is None:
        return [o for o in out if o[0] != "of"] + [("of", "the imitated protocol")]
    if isinstance(protocol, Combination):
        return out
    return out


@dataclass(frozen=True)
class ReportItem:
    """One parameter of the reporting checklist.

    Attributes
    ----------
    field : str
        Dotted field name.
    value : Any
        The value as written in a protocol file (``None`` if missing).
    required : bool
        Needed to deliver the protocol (else: should be reported).
    """

    field: str
    value: Any
    required: bool

    @property
    def missing(self) -> bool:
        """Whether the parameter is absent."""
        return self.value is None


def reporting_checklist(protocol: ProtocolBase, prefix: str = "") -> list[ReportItem]:
    """Return the parameters a publication must report, with their values.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.
    prefix : str
        Prepended to field names (used for the components of a combination).

    Returns
    -------
    list of ReportItem
        Required items first, then the further items to report; for a combination
        the items of each component follow.
    """
    dumped = protocol.model_dump(mode="json", exclude_none=True)
    required, report = CHECKLIST.get(protocol.modality_key(), ((), ()))
    items = []
    for names, req in ((required, True), (report, False)):
        for name in names:
            value: Any = dumped
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if name == "components" and value is not None:
                value = f"{len(value)} components"
            if isinstance(value, dict | list) and name == "of":
                value = value.get("modality") if isinstance(value, dict) else value
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = f"{len(value)} items"
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            items.append(ReportItem(prefix + name, value, req))
    if isinstance(protocol, Combination):
        for i, comp in enumerate(protocol.components):
            items += reporting_checklist(comp, f"{prefix}components.{i}.")
    return items


def _allowed(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    vals: list[Any] = []
    for o in prop.get("anyOf", [prop]):
        if "enum" in o:
            vals += o["enum"]
        if "$ref" in o:
            vals += defs.get(o["$ref"].rsplit("/", 1)[-1], {}).get("enum", [])
        if o.get("type") == "array" and "items" in o:
            for oo in o["items"].get("anyOf", [o["items"]]):
                vals += oo.get("enum", [])
    return ", ".join(f"`{v}`" for v in vals)


def field_reference_markdown() -> str:
    """Return the field reference of every modality as Markdown tables.

    Generated from the models' JSON Schemas (descriptions, SI and display units,
    allowed values); ``docs/protocols.md`` embeds this text and a test keeps the two
    equal.

    Returns
    -------
    str
        Markdown: common fields, schedule, one table per modality, TI pairs.
    """
    from phantomlab.protocols._base import Schedule
    from phantomlab.protocols.io import protocol_schema
    from phantomlab.protocols.models import MODALITIES
    from phantomlab.protocols.noninvasive import TIPair

    common = ["name", "target", "schedule", "citation", "notes"]
    out: list[str] = []

    def table(title: str, schema: dict[str, Any], keep: Any) -> None:
        defs = schema.get("$defs", {})
        out.append(f"### `{title}`\n")
        out.append("| field | SI unit (display) | allowed | description |")
        out.append("|---|---|---|---|")
        for name, prop in schema["properties"].items():
            if not keep(name):
                continue
            unit = ""
            for opt in prop.get("anyOf", []):
                if "x-display-unit" in opt:
                    unit = f"{opt['x-si-unit']} ({opt['x-display-unit']})"
            allowed = f"`{title}`" if name == "modality" else _allowed(prop, defs)
            desc = str(prop.get("description", "")).replace("|", "\\|")
            out.append(f"| `{name}` | {unit} | {allowed} | {desc} |")
        out.append("")

    table("common to every modality", protocol_schema("tdcs"), lambda n: n in common)
    table("schedule", Schedule.model_json_schema(), lambda n: True)
    for key in MODALITIES:
        table(key, protocol_schema(key), lambda n: n not in common)
    table("ti.pairs[] (TIPair)", TIPair.model_json_schema(), lambda n: True)
    return "\n".join(out)

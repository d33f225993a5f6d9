"""What a publication must report for each modality, and what a protocol lacks.

Two lists per modality: parameters **required** to deliver the protocol (without
them the dose is undetermined), and parameters a publication should also
**report** so the study can be compared, pooled and repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from phantomlab.protocols._base import ProtocolBase

__all__ = ["ReportItem", "checklist_items", "missing_required", "reporting_checklist"]


def missing_required(protocol: ProtocolBase) -> list[tuple[str, str]]:
    """Return the parameters missing to deliver a protocol (its own ``missing_required``).

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol (components of a combination are checked separately).

    Returns
    -------
    list of (str, str)
        (field, what is needed).
    """
    return protocol.missing_required()


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


def _shown(value: Any) -> Any:
    """Return a dumped field value as one checklist cell."""
    if isinstance(value, dict):
        return value.get("modality")  # an inline protocol: its modality
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} items"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def checklist_items(
    protocol: ProtocolBase,
    required: Sequence[str],
    report: Sequence[str],
    prefix: str = "",
) -> list[ReportItem]:
    """Return the checklist items of the named fields, with their values as written.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.
    required, report : sequence of str
        Dotted field names needed to deliver the protocol / to be reported.
    prefix : str
        Prepended to field names.

    Returns
    -------
    list of ReportItem
        Required items first.
    """
    dumped = protocol.model_dump(mode="json", exclude_none=True)
    items = []
    for names, req in ((required, True), (report, False)):
        for name in names:
            value: Any = dumped
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if name == "components" and value is not None:
                value = f"{len(value)} components"
            items.append(ReportItem(prefix + name, _shown(value), req))
    return items


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
        the items of each component follow. The lists are the class attributes
        ``required_fields`` and ``report_fields`` of the protocol's class.
    """
    return protocol.report_items(prefix)


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
    from phantomlab.protocols.noninvasive import TIPair
    from phantomlab.protocols.registry import MODALITIES

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

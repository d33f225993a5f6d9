"""Reference protocol library: the protocols of published PLP studies.

Each entry of ``data/reference_protocols.yaml`` is one study arm, named
``<study_id>_<arm>`` with the ``study_id`` and ``arm`` of the evidence table
(``plp_studies.csv``), so the evidence base can link an arm to its protocol by
string. Only parameters the source states are set; the rest is left unset, and
``citation``/``notes`` say where the values come from.

Exception: ``nihon2001`` has three rows with the same arm ``single`` (SCS, DBS,
MCS); their names carry the modality (``nihon2001_single_scs`` ...). Use
:func:`reference_name` to resolve any (study_id, arm, modality) triple.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from phantomlab._yaml import load_text
from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase

__all__ = [
    "ReferenceEntry",
    "get_reference",
    "list_reference",
    "reference_entry",
    "reference_for_study",
    "reference_name",
]


@dataclass(frozen=True)
class ReferenceEntry:
    """Metadata of one reference protocol.

    Attributes
    ----------
    name : str
        Library name, ``<study_id>_<arm>``.
    study_id : str
        ``study_id`` of the evidence table.
    arm : str
        ``arm`` of the evidence table.
    read : str
        Where the parameters were read.
    extra : bool
        Arm not in the evidence table (e.g. a factorial cell or a study outside it).
    csv_modality : str or None
        The evidence table's modality where one (study, arm) has several rows.
    """

    name: str
    study_id: str
    arm: str
    read: str
    extra: bool = False
    csv_modality: str | None = None


@lru_cache(maxsize=1)
def _raw_library() -> dict[str, dict[str, Any]]:
    text = (
        resources.files("phantomlab.protocols")
        .joinpath("data/reference_protocols.yaml")
        .read_text()
    )
    data = load_text(text, field="reference_protocols.yaml")
    return {str(k): v for k, v in data.items()}


def list_reference() -> list[str]:
    """Return the names of the reference protocols, in library order.

    Returns
    -------
    list of str
        e.g. ``["malavera2016_active", "malavera2016_sham", ...]``.
    """
    return list(_raw_library())


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def _resolve_name(name: str) -> str:
    raw = _raw_library()
    if name in raw:
        return name
    slugs = {_slug(n): n for n in raw}
    if _slug(name) in slugs:
        return slugs[_slug(name)]
    close = [n for n in raw if _slug(name)[:6] and n.startswith(_slug(name)[:6])]
    raise ProtocolError(
        Problem(
            "name",
            name,
            "a reference protocol name (phantomlab protocol list)"
            + (f"; did you mean: {', '.join(close[:5])}" if close else ""),
            "",
            "unknown reference protocol",
        )
    )


@cache
def _load(name: str) -> ProtocolBase:
    from phantomlab.protocols.io import load_protocol

    protocol = dict(_raw_library()[name]["protocol"])
    protocol.setdefault("name", name)
    return load_protocol(protocol)


def get_reference(name: str) -> ProtocolBase:
    """Return a reference protocol by name.

    Parameters
    ----------
    name : str
        A name from :func:`list_reference`. A "slug" spelling (lower case, every
        non-alphanumeric character replaced by ``_``) is also accepted, e.g.
        ``yanagisawa2020_real_decoder`` for ``"yanagisawa2020_real decoder"``.

    Returns
    -------
    ProtocolBase
        The validated (frozen) protocol.

    Raises
    ------
    ProtocolError
        If the name is unknown.
    """
    return _load(_resolve_name(name))


def reference_entry(name: str) -> ReferenceEntry:
    """Return the metadata (study, arm, where read) of a reference protocol.

    Parameters
    ----------
    name : str
        A reference name.

    Returns
    -------
    ReferenceEntry
        The entry.
    """
    key = _resolve_name(name)
    raw = _raw_library()[key]
    return ReferenceEntry(
        name=key,
        study_id=str(raw["study_id"]),
        arm=str(raw["arm"]),
        read=str(raw.get("read", "")),
        extra=bool(raw.get("extra", False)),
        csv_modality=raw.get("csv_modality"),
    )


def reference_for_study(study_id: str) -> dict[str, str]:
    """Return the reference protocols of one study, keyed by arm.

    Parameters
    ----------
    study_id : str
        ``study_id`` of the evidence table, e.g. ``"malavera2016"``.

    Returns
    -------
    dict of str to str
        ``{arm: name}``, e.g. ``{"active": "malavera2016_active", "sham":
        "malavera2016_sham"}``. Empty for a study without a protocol (pooled
        meta-analyses). Where several rows share one arm (``nihon2001``), the key is
        ``<arm>_<modality>`` (``single_scs``).
    """
    out: dict[str, str] = {}
    for name, raw in _raw_library().items():
        if raw["study_id"] == study_id:
            arm = str(raw["arm"])
            if raw.get("csv_modality"):
                arm = f"{arm}_{str(raw['csv_modality']).lower()}"
            out[arm] = name
    return out


def reference_name(study_id: str, arm: str, modality: str | None = None) -> str | None:
    """Return the reference name of an evidence-table row, or ``None``.

    Parameters
    ----------
    study_id : str
        ``study_id`` column.
    arm : str
        ``arm`` column.
    modality : str, optional
        ``modality`` column; needed only where one (study, arm) has several rows.

    Returns
    -------
    str or None
        The library name, or ``None`` if the row has no reference protocol.
    """
    for name, raw in _raw_library().items():
        if raw["study_id"] != study_id or str(raw["arm"]) != arm:
            continue
        csv_mod = raw.get("csv_modality")
        if csv_mod is None or modality is None or str(csv_mod).lower() == modality.lower():
            return name
    return None

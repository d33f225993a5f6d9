"""Reading, writing and describing protocols: YAML/JSON in, JSON Schema out.

Every failure is a :class:`~phantomlab.exceptions.ProtocolError` holding one
:class:`~phantomlab.exceptions.Problem` per defect (YAML syntax, unknown modality
or field, wrong unit dimension, negative or malformed values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phantomlab._yaml import load_file, load_text
from phantomlab.exceptions import InputError, Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols.registry import MODALITIES, model_for, protocol_adapter

__all__ = [
    "dump_protocol",
    "load_protocol",
    "problems_from_validation",
    "protocol_schema",
    "protocol_to_dict",
]

_MAX_TEXT = 1_000_000


def _join(loc: list[str], inner: str) -> str:
    """Combine a pydantic location with the field name a validator reported."""
    if not loc:
        return inner
    head = inner.split(".")[0]
    if head == "value":
        return ".".join([*loc, *inner.split(".")[1:]])
    if inner in ("value", loc[-1]) or inner in loc:
        return ".".join(loc)
    if head == loc[-1]:
        return ".".join([*loc[:-1], inner])
    return ".".join([*loc, inner])


def problems_from_validation(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Convert a pydantic ``ValidationError`` of a protocol into problems.

    Errors raised by the unit parser keep their allowed range and source; the field
    path is the dotted location (``tdcs.current``, ``components.0.tdcs.current``).

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error.
    prefix : str
        Prepended to each field path.

    Returns
    -------
    list of Problem
        One problem per defect.
    """
    out: list[Problem] = []
    errors = exc.errors()
    locs = [tuple(str(p) for p in e.get("loc", ())) for e in errors]
    for err, raw_loc in zip(errors, locs, strict=True):
        if err.get("type") in ("too_short", "too_long") and any(
            len(other) > len(raw_loc) and other[: len(raw_loc)] == raw_loc for other in locs
        ):
            continue  # a length error caused by invalid items, already reported
        loc = [
            p
            for p in raw_loc
            if not p.startswith("function-") and not p.startswith("tagged-union[")
        ]
        ctx = err.get("ctx") or {}
        inner = ctx.get("error") if isinstance(ctx, dict) else None
        if isinstance(inner, InputError):
            for p in inner.problems:
                field = _join(loc, p.field)
                out.append(
                    Problem(
                        ".".join(s for s in (prefix, field) if s),
                        p.value,
                        p.limit,
                        p.source,
                        p.message,
                        p.severity,
                    )
                )
            continue
        field = ".".join(s for s in (prefix, *loc) if s) or "protocol"
        etype = err.get("type", "")
        limit = ""
        msg = str(err.get("msg", "invalid"))
        value: Any = err.get("input")
        if etype == "union_tag_invalid" or etype == "union_tag_not_found":
            field = ".".join(s for s in (prefix, *loc, "modality") if s)
            limit = "one of: " + ", ".join(MODALITIES)
            msg = "unknown modality" if etype == "union_tag_invalid" else "missing 'modality'"
            value = ctx.get("tag") if etype == "union_tag_invalid" else None
        elif etype == "extra_forbidden":
            msg = "unknown field"
            limit = "a documented field (phantomlab protocol schema MODALITY)"
        elif etype == "missing":
            msg = "required field is missing"
            value = None
        elif "expected" in ctx:
            limit = f"one of: {ctx['expected']}"
        for key, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if key in ctx:
                limit = (limit + " and " if limit else "") + f"{op} {ctx[key]}"
        if "min_length" in ctx or "max_length" in ctx:
            limit = f"length {ctx.get('min_length', 0)}..{ctx.get('max_length', 'any')}"
        if isinstance(value, dict | list) and len(repr(value)) > 80:
            value = f"<{type(value).__name__}>"
        out.append(Problem(field, value, limit, "", msg))
    return out


def _parse_text(text: str, origin: str) -> Any:
    if len(text) > _MAX_TEXT:
        raise ProtocolError(Problem(origin, f"{len(text)} characters", "<= 1 MB", "", "too long"))
    return load_text(text, field=origin, error=ProtocolError)


def _read_source(source: Any) -> Any:
    if isinstance(source, dict | ProtocolBase):
        return source
    if isinstance(source, Path):
        return load_file(source, field="file", error=ProtocolError, max_bytes=_MAX_TEXT)
    if isinstance(source, str):
        stripped = source.strip()
        if "\n" not in stripped and stripped.lower().endswith((".yaml", ".yml", ".json")):
            return _read_source(Path(stripped))
        return _parse_text(source, "text")
    raise ProtocolError(
        Problem(
            "input",
            type(source).__name__,
            "a dict, YAML/JSON text or a path",
            "",
            "cannot read a protocol from this",
        )
    )


def load_protocol(source: Any) -> ProtocolBase:
    """Build a validated protocol from a dict, YAML/JSON text, or a file path.

    Parameters
    ----------
    source : dict, str, pathlib.Path or ProtocolBase
        A mapping with a ``modality`` key; YAML or JSON text; a path to a
        ``.yaml``/``.yml``/``.json`` file (a ``str`` ending in one of these and
        without a newline is treated as a path). A protocol object is returned as is.

    Returns
    -------
    ProtocolBase
        The protocol (an instance of the model of its modality).

    Raises
    ------
    ProtocolError
        With one problem per defect found.

    Examples
    --------
    >>> p = load_protocol({"modality": "tdcs", "current": "2 mA", "duration": "20 min"})
    >>> p.current
    0.002
    """
    data = _read_source(source)
    if isinstance(data, ProtocolBase):
        return data
    if not isinstance(data, dict):
        raise ProtocolError(
            Problem(
                "protocol",
                type(data).__name__,  # the type only: never echo what a file holds
                "a mapping with a 'modality' key",
                "",
                "not a mapping",
            )
        )
    try:
        result: ProtocolBase = protocol_adapter().validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(problems_from_validation(exc)) from None
    except RecursionError:
        raise ProtocolError(
            Problem("protocol", "?", "nesting depth < 50", "", "too deep")
        ) from None
    return result


def protocol_to_dict(protocol: ProtocolBase) -> dict[str, Any]:
    """Return the protocol as a plain dict with quantities in clinical units.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.

    Returns
    -------
    dict
        Unset fields are omitted; the dict loads back with :func:`load_protocol`.
    """
    return protocol.model_dump(mode="json", exclude_none=True)


def dump_protocol(protocol: ProtocolBase, fmt: str = "yaml") -> str:
    """Write a protocol as YAML or JSON text.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol.
    fmt : {"yaml", "json"}
        Output format.

    Returns
    -------
    str
        Text that :func:`load_protocol` reads back to an equal protocol.
    """
    data = protocol_to_dict(protocol)
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "yaml":
        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    raise ProtocolError(Problem("fmt", fmt, "yaml or json", "", "unknown format"))


def protocol_schema(modality: str | None = None) -> dict[str, Any]:
    """Return the JSON Schema of one modality, or of the whole union.

    Parameters
    ----------
    modality : str, optional
        A modality key (``"tdcs"``, ``"scs"``, ...). ``None`` gives the union.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12, as pydantic writes it).

    Raises
    ------
    ProtocolError
        If the modality is unknown.
    """
    if modality is None:
        return protocol_adapter().json_schema()
    schema = model_for(modality).model_json_schema()
    ref = schema.pop("$ref", None)
    if isinstance(ref, str):  # recursive models (combination, sham) come as a reference
        schema = {**schema["$defs"][ref.rsplit("/", 1)[-1]], "$defs": schema["$defs"]}
    return schema

"""Field types of the protocol language: quantities with units, counts, electrodes.

Every dimensional field is written by the user with its unit (``"2 mA"``,
``"35 cm^2"``, ``"300 us"``) and stored as a plain ``float`` in SI. When a
protocol is written back (``model_dump``, YAML, JSON) each quantity is printed
in its clinical display unit, so a dump can be loaded again.

Electrode names are checked against the 10-05 positions of MNE-Python's bundled
``colin27_1005`` montage (the FieldTrip ``standard_1005`` layout), shipped as a data
file so that MNE is not needed.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from phantomlab._units import as_si, convert
from phantomlab.exceptions import Problem, ProtocolError, UnitError

__all__ = [
    "Area",
    "ContactArea",
    "Count",
    "Current",
    "Distance",
    "Duration",
    "ElectrodeRef",
    "Frequency",
    "Intensity",
    "LongDuration",
    "PulseWidth",
    "Rate",
    "Resistance",
    "ShortDuration",
    "Side",
    "SpinalLevel",
    "Voltage",
    "electrode_names",
    "mirror_electrode",
    "quantity_type",
]

#: Amputated side, or a laterality relative to it.
Side = Literal["left", "right"]

# A number followed by a unit expression made of letters, digits, ^, *, /, spaces
# and parentheses. Bounding the grammar (and the length) keeps pint's parser away
# from pathological input such as huge integer powers.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?"
_QTY_RE = re.compile(rf"^\s*{_NUMBER}\s*[A-Za-zµμΩ°%][A-Za-z0-9µμΩ°%^*/()\s.]*$")
_MAX_LEN = 64


def _fmt(value: float, si: str, display: str) -> str:
    return f"{convert(value, si, display):.12g} {display}"


def _make_quantity(
    si: str,
    display: str,
    what: str,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Any:
    """Build an annotated optional-float type parsed from a quantity with a unit."""
    example = f"'{1} {display}'"

    def parse(value: Any, info: Any = None) -> float | None:
        if value is None:
            return None
        field = getattr(info, "field_name", None) or "value"
        if isinstance(value, str) and (len(value) > _MAX_LEN or not _QTY_RE.match(value)):
            raise UnitError(
                Problem(
                    field,
                    value,
                    f"a quantity in {display}, e.g. {example}",
                    "",
                    "cannot parse as a number followed by a unit",
                )
            )
        out = as_si(value, si, field=field)
        if not math.isfinite(out):
            raise UnitError(Problem(field, value, "a finite quantity", "", "not finite"))
        if not allow_negative:
            if out < 0 or (out == 0 and not allow_zero):
                op = ">=" if allow_zero else ">"
                raise UnitError(
                    Problem(field, value, f"{op} 0 {display}", "", f"{what} must be {op} 0")
                )
        return out

    def dump(value: float | None) -> str | None:
        return None if value is None else _fmt(value, si, display)

    schema = {
        "anyOf": [
            {
                "type": "string",
                "description": f"{what}: a number with a unit convertible to {si}, e.g. {example}",
                "x-si-unit": si,
                "x-display-unit": display,
            },
            {"type": "null"},
        ]
    }
    return Annotated[
        float | None,
        BeforeValidator(parse),
        PlainSerializer(dump, return_type=str | None),
        WithJsonSchema(schema),
    ]


Current = _make_quantity("A", "mA", "current")
Voltage = _make_quantity("V", "V", "voltage")
Resistance = _make_quantity("ohm", "ohm", "impedance")
PulseWidth = _make_quantity("s", "us", "pulse width")
Duration = _make_quantity("s", "min", "duration")
ShortDuration = _make_quantity("s", "s", "duration", allow_zero=True)
LongDuration = _make_quantity("s", "day", "duration")
Frequency = _make_quantity("Hz", "Hz", "frequency")
Rate = _make_quantity("Hz", "Hz", "rate")
Area = _make_quantity("m^2", "cm^2", "area")
ContactArea = _make_quantity("m^2", "mm^2", "contact area")
Distance = _make_quantity("m", "mm", "distance", allow_zero=True)


def quantity_type(
    si: str, display: str, what: str, *, allow_zero: bool = False, allow_negative: bool = False
) -> Any:
    """Return the field type of an optional quantity written with a unit, stored in SI.

    For protocol classes of new modalities (``amplitude: Displacement = Field(None)``
    with ``Displacement = quantity_type("m", "um", "displacement")``).

    Parameters
    ----------
    si : str
        SI unit of the stored float (``"m"``, ``"A"``, ``"Hz"``).
    display : str
        Unit in which the value is written out (``"um"``, ``"mA"``).
    what : str
        Name of the quantity in error messages.
    allow_zero, allow_negative : bool
        Whether 0 (or negative values) are accepted (default: > 0 only).

    Returns
    -------
    typing.Annotated
        ``float | None`` with its parser, serializer and JSON Schema (``x-si-unit``).
    """
    return _make_quantity(si, display, what, allow_zero=allow_zero, allow_negative=allow_negative)


def _count(value: Any, info: Any = None) -> int | None:
    if value is None:
        return None
    field = getattr(info, "field_name", None) or "value"
    if isinstance(value, bool):
        raise ProtocolError(Problem(field, value, "a positive integer", "", "not an integer"))
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ProtocolError(Problem(field, value, "a positive integer", "", "not an integer"))
    if value < 1:
        raise ProtocolError(Problem(field, value, ">= 1", "", "must be a positive integer"))
    return value


#: A positive integer (sessions, trains, pulses).
Count = Annotated[
    int | None,
    BeforeValidator(_count),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}),
]

# ---------------------------------------------------------------------------- intensity
_INTENSITY_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*%\s*(RMT|AMT|MT|MSO)\s*$",
    re.IGNORECASE,
)


def _intensity(value: Any, info: Any = None) -> str | None:
    if value is None:
        return None
    field = getattr(info, "field_name", None) or "value"
    m = _INTENSITY_RE.match(value) if isinstance(value, str) and len(value) < 40 else None
    if m is None:
        raise ProtocolError(
            Problem(
                field,
                value,
                "a percentage of a threshold, e.g. '90 %MT', '110 %RMT', '80 %AMT' or '50 %MSO'",
                "",
                "cannot parse the stimulation intensity",
            )
        )
    pct = float(m.group(1))
    if pct <= 0:
        raise ProtocolError(Problem(field, value, "> 0 %", "", "intensity must be > 0"))
    return f"{pct:g} %{m.group(2).upper()}"


#: rTMS intensity as a percentage of a threshold: "90 %MT" (resting motor threshold is
#: "%RMT", active "%AMT", unspecified motor threshold "%MT", machine output "%MSO").
Intensity = Annotated[
    str | None,
    BeforeValidator(_intensity),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*\d+(\.\d+)?\s*%\s*(RMT|AMT|MT|MSO)\s*$",
                    "description": "percent of a threshold, e.g. '90 %MT'",
                },
                {"type": "null"},
            ]
        }
    ),
]


def parse_intensity(text: str) -> tuple[float, str]:
    """Split a validated intensity string into (percent, reference).

    Parameters
    ----------
    text : str
        A validated intensity such as ``"90 %MT"``.

    Returns
    -------
    tuple of (float, str)
        The percentage and the reference (``"RMT"``, ``"AMT"``, ``"MT"``, ``"MSO"``).
    """
    m = _INTENSITY_RE.match(text)
    if m is None:  # pragma: no cover - only validated strings reach here
        raise ProtocolError(Problem("intensity", text, "'90 %MT'", "", "cannot parse"))
    return float(m.group(1)), m.group(2).upper()


# ------------------------------------------------------------------------ spinal level
_LEVEL = r"(?:C[1-8]|T(?:1[0-2]|[1-9])|L[1-5]|S[1-5])"
_SPINAL_RE = re.compile(rf"^{_LEVEL}(?:\s*-\s*{_LEVEL})?$")


def _spinal(value: Any, info: Any = None) -> str | None:
    if value is None:
        return None
    field = getattr(info, "field_name", None) or "value"
    text = value.strip().upper() if isinstance(value, str) else None
    if text is None or len(text) > 12 or not _SPINAL_RE.match(text):
        raise ProtocolError(
            Problem(
                field,
                value,
                "a vertebral/spinal level C1-C8, T1-T12, L1-L5, S1-S5 or a range 'T9-T10'",
                "",
                "not a spinal level",
            )
        )
    return text.replace(" ", "")


#: A vertebral or spinal-segment level ("T10", "L4") or a range ("T9-T10").
SpinalLevel = Annotated[
    str | None,
    BeforeValidator(_spinal),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _SPINAL_RE.pattern}, {"type": "null"}]}
    ),
]


# ------------------------------------------------------------------------- electrodes
@lru_cache(maxsize=1)
def electrode_names() -> dict[str, str]:
    """Return the 10-05 electrode names of MNE's ``colin27_1005`` montage, keyed by lower case.

    The names ship as ``data/electrode_names.csv`` (written once from MNE 1.13's
    ``colin27_1005``, called ``"standard_1005"`` before MNE 1.13, by
    ``tools/make_electrode_data.py``), so MNE is not needed. Cached.

    Returns
    -------
    dict of str to str
        ``{"c3": "C3", "fp2": "Fp2", ...}`` (343 positions).
    """
    text = resources.files("phantomlab.protocols").joinpath("data/electrode_names.csv")
    rows = text.read_text(encoding="utf-8").split()
    return {n.lower(): n for n in rows[1:]}


_LAT_RE = re.compile(r"^([A-Za-z]+?)(\d+)(h?)$")


def mirror_electrode(name: str) -> str:
    """Return the electrode at the mirror position across the midline.

    Odd numbers are on the left, even on the right, ``z`` on the midline
    (10-20 convention): ``C3 -> C4``, ``Fp2 -> Fp1``, ``FCC3h -> FCC4h``, ``Cz -> Cz``.

    Parameters
    ----------
    name : str
        A 10-05 electrode name.

    Returns
    -------
    str
        The mirrored name (canonical MNE spelling).
    """
    m = _LAT_RE.match(name)
    if m is None:
        return name
    stem, num, h = m.group(1), int(m.group(2)), m.group(3)
    mirrored = num + 1 if num % 2 == 1 else num - 1
    return electrode_names().get(f"{stem}{mirrored}{h}".lower(), name)


def _electrode(value: Any, info: Any = None) -> str | tuple[float, float, float] | None:
    if value is None:
        return None
    field = getattr(info, "field_name", None) or "value"
    if isinstance(value, str):
        canonical = electrode_names().get(value.strip().lower()) if len(value) < 16 else None
        if canonical is None:
            raise ProtocolError(
                Problem(
                    field,
                    value,
                    "a 10-05 electrode name such as C3, C4, Cz, Fp1, Fp2, FC5 "
                    "(MNE colin27_1005 / standard_1005) or a position [x, y, z] with units",
                    "MNE-Python bundled montage colin27_1005 (FieldTrip standard_1005.elc)",
                    "unknown electrode name",
                )
            )
        return canonical
    if isinstance(value, list | tuple) and len(value) == 3:
        out = []
        for axis, v in zip("xyz", value, strict=True):
            if isinstance(v, str) and (len(v) > _MAX_LEN or not _QTY_RE.match(v)):
                raise UnitError(
                    Problem(
                        f"{field}.{axis}",
                        v,
                        "a length, e.g. '-65 mm'",
                        "",
                        "cannot parse as a number followed by a unit",
                    )
                )
            x = as_si(v, "m", field=f"{field}.{axis}")
            if not math.isfinite(x) or abs(x) > 0.5:
                raise ProtocolError(
                    Problem(f"{field}.{axis}", v, "|x| <= 0.5 m", "", "not a head position")
                )
            out.append(x)
        return (out[0], out[1], out[2])
    raise ProtocolError(
        Problem(field, value, "an electrode name or [x, y, z] position", "", "not an electrode")
    )


def _dump_electrode(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return [_fmt(v, "m", "mm") for v in value]


#: An electrode: a 10-05 name ("C3") or a position in head coordinates ([x, y, z] with units).
ElectrodeRef = Annotated[
    str | tuple[float, float, float] | None,
    BeforeValidator(_electrode),
    PlainSerializer(_dump_electrode),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "10-05 electrode name, e.g. 'C3'"},
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 3,
                    "maxItems": 3,
                    "description": "position [x, y, z] in head coordinates, e.g. "
                    "['-65 mm', '-12 mm', '64 mm']",
                },
                {"type": "null"},
            ]
        }
    ),
]

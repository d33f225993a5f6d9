"""Protocol models: loading, units, errors, immutability, replace, for_patient, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from phantomlab.exceptions import ProtocolError
from phantomlab.protocols import (
    MODALITIES,
    SCS,
    TDCS,
    dump_protocol,
    get_reference,
    list_reference,
    load_protocol,
    protocol_schema,
)
from phantomlab.protocols._types import electrode_names, mirror_electrode

TDCS_YAML = """\
modality: tdcs
target: M1 hand area contralateral
anode: C3
cathode: Fp2
current: 2 mA
electrode_area: 35 cm^2
duration: 20 min
schedule: {sessions: 10, per_week: 5}
"""
SCS_YAML = """\
modality: scs
waveform: tonic
lead: percutaneous
vertebral_level: T10
amplitude: 4.5 mA
pulse_width: 300 us
frequency: 50 Hz
contact_area: 12 mm^2
"""


def _fields(exc: pytest.ExceptionInfo[ProtocolError]) -> set[str]:
    return {p.field for p in exc.value.problems}


def test_issue_examples_load_to_si() -> None:
    t = load_protocol(TDCS_YAML)
    assert isinstance(t, TDCS)
    assert t.current == pytest.approx(0.002)
    assert t.electrode_area == pytest.approx(35e-4)
    assert t.duration == pytest.approx(1200.0)
    assert t.schedule is not None and t.schedule.sessions == 10
    s = load_protocol(SCS_YAML)
    assert isinstance(s, SCS)
    assert s.pulse_width == pytest.approx(300e-6)
    assert s.contact_area == pytest.approx(12e-6)


def test_load_from_path_json_and_dict(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(TDCS_YAML)
    assert load_protocol(f) == load_protocol(str(f)) == load_protocol(TDCS_YAML)
    d = json.loads(dump_protocol(load_protocol(TDCS_YAML), "json"))
    assert load_protocol(d) == load_protocol(TDCS_YAML)
    assert load_protocol(json.dumps(d)) == load_protocol(TDCS_YAML)


@pytest.mark.parametrize("name", list_reference())
def test_round_trip_every_reference(name: str) -> None:
    p = get_reference(name)
    again = load_protocol(dump_protocol(p))
    assert dump_protocol(again) == dump_protocol(p)
    assert type(again) is type(p)


def test_frozen_and_replace() -> None:
    p = load_protocol(TDCS_YAML)
    with pytest.raises(pydantic.ValidationError):
        p.current = 0.001  # type: ignore[misc]
    q = p.replace(current="1 mA")
    assert q.current == pytest.approx(1e-3)
    assert p.current == pytest.approx(2e-3)
    assert type(q) is type(p)
    assert p.replace(target=None).target is None
    with pytest.raises(ProtocolError) as exc:
        p.replace(current="1 s")
    assert _fields(exc) == {"tdcs.current"}


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("modality: tdcs\ncurrent: 2 s", "tdcs.current", "dimension"),
        ("modality: tdcs\ncurrent: 2", "tdcs.current", "bare number"),
        ("modality: tdcs\ncurrent: -2 mA", "tdcs.current", "> 0"),
        ("modality: tdcs\ncurrent: two mA", "tdcs.current", "parse"),
        ("modality: tdcs\ncurent: 2 mA", "tdcs.curent", "unknown field"),
        ("modality: tdcx", "modality", "unknown modality"),
        ("current: 2 mA", "modality", "missing"),
        ("modality: tdcs\nanode: Q7", "tdcs.anode", "electrode"),
        ("modality: scs\nvertebral_level: T13", "scs.vertebral_level", "spinal level"),
        ("modality: rtms\nintensity: 90 percent", "rtms.intensity", "intensity"),
        ("modality: rtms\ntrains: 2.5", "rtms.trains", "integer"),
        ("modality: rtms\ntrains: 0", "rtms.trains", "positive"),
        ("modality: tdcs\nschedule: {sessions: -1}", "tdcs.schedule.sessions", "positive"),
        ("modality: tdcs\nanode: C3\ncathode: c3", "tdcs.cathode", "same"),
        ("modality: scs\npulse_width: 20 ms\nfrequency: 50 Hz", "scs.pulse_width", "overlap"),
        ("modality: tdcs\nanode: ['1 m', '0 m', '0 m']", "tdcs.anode.x", "head"),
        ("modality: sham\nof: {modality: rtms, intensity: '200'}", "sham.of.rtms.intensity", "%MT"),
        (
            "modality: combination\ncomponents: [{modality: tdcs, current: 2 s}, {modality: zz}]",
            "combination.components.0.tdcs.current",
            "dimension",
        ),
        (
            "modality: ti\npairs: [{electrodes: [F5, X9]}, {electrodes: [F6, P6]}]",
            "ti.pairs.0.electrodes.1",
            "electrode",
        ),
    ],
)
def test_bad_input_names_field(text: str, field: str, words: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol(text)
    probs = exc.value.problems
    assert field in {p.field for p in probs}, [p.line() for p in probs]
    line = next(p.line() for p in probs if p.field == field)
    assert words in line


def test_no_spurious_length_error() -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol(
            {"modality": "combination", "components": [{"modality": "tdcs", "current": "2 s"}, {}]}
        )
    assert not any("at least 2" in p.message for p in exc.value.problems)


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol("modality: tdcs\ncurrent: 2 s\nduration: -1 min\nfoo: 1\nanode: X1")
    assert _fields(exc) == {"tdcs.current", "tdcs.duration", "tdcs.foo", "tdcs.anode"}


def test_yaml_syntax_error() -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol("modality: tdcs\ncurrent: [2 mA\n")
    assert "syntax error" in exc.value.problems[0].message
    assert "line" in str(exc.value.problems[0].value)


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError):
        load_protocol("- a\n- b\n")
    with pytest.raises(ProtocolError):
        load_protocol(tmp_path / "missing.yaml")
    with pytest.raises(ProtocolError):
        load_protocol(42)


def test_electrode_names_from_mne() -> None:
    names = electrode_names()
    assert len(names) == 343
    assert names["c3"] == "C3" and names["fp2"] == "Fp2"
    p = load_protocol("modality: tdcs\nanode: c3\ncathode: FP2")
    assert (p.anode, p.cathode) == ("C3", "Fp2")  # canonical spelling
    assert electrode_names.cache_info().hits >= 1


@pytest.mark.parametrize(
    ("name", "mirrored"),
    [("C3", "C4"), ("Fp2", "Fp1"), ("FC5", "FC6"), ("T7", "T8"), ("Cz", "Cz"), ("P10", "P9")],
)
def test_mirror_electrode(name: str, mirrored: str) -> None:
    assert mirror_electrode(name) == mirrored


def test_for_patient_resolves_relative_targets() -> None:
    p = load_protocol(TDCS_YAML + "montage_side: right\n")
    left = p.for_patient("left", "transradial")
    assert left.target == "M1 hand area right (contralateral)"
    assert (left.anode, left.cathode) == ("C4", "Fp1")
    right = p.for_patient("right", "transradial")
    assert (right.anode, right.cathode) == ("C3", "Fp2")
    assert right.target == "M1 hand area left (contralateral)"
    # without montage_side the electrode names are absolute
    q = load_protocol(TDCS_YAML).for_patient("left")
    assert (q.anode, q.cathode) == ("C3", "Fp2")


def test_for_patient_level_and_drg_side() -> None:
    p = load_protocol("modality: tdcs\ntarget: S1 missing-limb area contralateral")
    assert p.for_patient("right", "transfemoral").target == "S1 leg area left (contralateral)"
    d = load_protocol("modality: drg\ntarget: DRG L4 ipsilateral\nlevel: L4\nside: ipsilateral")
    r = d.for_patient("left", "transtibial")
    assert r.side == "left"  # type: ignore[attr-defined]
    assert r.target == "DRG L4 left (ipsilateral)"
    with pytest.raises(ProtocolError):
        p.for_patient("middle")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        p.for_patient("left", "neck")  # type: ignore[arg-type]


def test_for_patient_recurses_into_combination() -> None:
    c = load_protocol(
        {
            "modality": "combination",
            "components": [
                {"modality": "tdcs", "anode": "C3", "cathode": "Fp2", "montage_side": "right"},
                {"modality": "mirror", "target": "ipsilateral limb"},
            ],
        }
    )
    r = c.for_patient("left")
    assert r.components[0].anode == "C4"  # type: ignore[attr-defined]
    assert r.components[1].target == "left (ipsilateral) limb"


@pytest.mark.parametrize("modality", list(MODALITIES))
def test_schema_per_modality(modality: str) -> None:
    schema = protocol_schema(modality)
    props = schema["properties"]
    assert props["modality"]["const"] == modality or modality in str(props["modality"])
    assert schema.get("additionalProperties") is False
    for name, prop in props.items():  # every field documented
        assert prop.get("description"), f"{modality}.{name} has no description"


def test_schema_unknown_modality() -> None:
    with pytest.raises(ProtocolError):
        protocol_schema("foo")


def test_sham_of_reference_and_inline() -> None:
    s = load_protocol({"modality": "sham", "of": "malavera2016_active", "method": "sham coil"})
    assert s.active() == get_reference("malavera2016_active")  # type: ignore[attr-defined]
    inline = load_protocol(
        {"modality": "sham", "of": {"modality": "tdcs", "current": "2 mA"}, "method": "ramp"}
    )
    assert inline.active().current == pytest.approx(2e-3)  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError):
        load_protocol({"modality": "sham", "of": "nonexistent_protocol"})


def test_ti_needs_two_pairs() -> None:
    with pytest.raises(ProtocolError):
        load_protocol({"modality": "ti", "pairs": [{"electrodes": ["F5", "P5"]}]})


def test_combination_needs_two_components() -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol({"modality": "combination", "components": [{"modality": "mirror"}]})
    assert "combination.components" in _fields(exc)


def test_rtms_inconsistent_pulses() -> None:
    with pytest.raises(ProtocolError) as exc:
        load_protocol(
            "modality: rtms\nfrequency: 10 Hz\ntrains: 20\ntrain_duration: 6 s\n"
            "pulses_per_session: 1000"
        )
    assert "rtms.pulses_per_session" in _fields(exc)


def _all_examples() -> list[Any]:
    out = []
    for cls in MODALITIES.values():
        doc = cls.__doc__ or ""
        if "Example (YAML)::" in doc:
            block = doc.split("Example (YAML)::", 1)[1]
            lines = [ln[8:] for ln in block.splitlines()[2:] if ln.startswith("        ")]
            out.append(pytest.param("\n".join(lines), id=cls.__name__))
    return out


@pytest.mark.parametrize("text", _all_examples())
def test_docstring_examples_load(text: str) -> None:
    load_protocol(text)


def test_replace_si_for_programs() -> None:
    p = load_protocol(TDCS_YAML)
    q = p.replace_si(current=0.001, duration=600.0)
    assert q.current == pytest.approx(1e-3) and q.duration == pytest.approx(600.0)
    # 1 mA * 600 s = 0.6 C
    assert q.dose().charge_per_session_C == pytest.approx(0.6)
    with pytest.raises(ProtocolError):
        p.replace_si(anode=1.0)
    with pytest.raises(ProtocolError):
        p.replace_si(current=-0.001)


def test_for_patient_is_idempotent() -> None:
    p = load_protocol(TDCS_YAML + "montage_side: right\n").for_patient("left", "transradial")
    assert p.for_patient("left", "transradial") == p


def test_reporting_checklist_flags_missing() -> None:
    from phantomlab.protocols import reporting_checklist

    items = {
        i.field: i for i in reporting_checklist(load_protocol("modality: tdcs\ncurrent: 2 mA"))
    }
    assert items["current"].value == "2 mA" and not items["current"].missing
    assert items["anode"].missing and items["anode"].required
    assert items["ramp_up"].missing and not items["ramp_up"].required
    ti = load_protocol(
        "modality: ti\npairs: [{electrodes: [F5, P5]}, {electrodes: [F6, P6]}]\nduration: 20 min"
    )
    fields = {i.field: i for i in reporting_checklist(ti)}
    assert fields["pairs"].value == "2 items"
    assert "ti.pairs.0.current" in {p.field for p in ti.check().errors}

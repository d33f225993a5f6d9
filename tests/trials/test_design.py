"""Trial-design specs: loading, validation, schema."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.trials import design_schema, load_design
from phantomlab.trials.design import EXAMPLES, TrialDesign, example_design

BASE = {"arms": [{"name": "sham", "sham": True}, {"name": "active"}]}


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load(name):
    d = example_design(name)
    assert isinstance(d, TrialDesign)
    assert d.sham_controlled
    assert d.control_arm == "sham" or d.control_arm.startswith("sham")


def test_defaults_and_derived():
    d = load_design(BASE)
    assert d.design == "parallel"
    assert d.control_arm == "sham"
    assert d.allocation_units() == [("sham", 1), ("active", 1)]
    assert d.strata_factors() == {"center": ["site1"]}
    assert d.arm_effects() == {"sham": 0.0, "active": -1.5}


def test_crossover_units_and_durations():
    d = example_design("crossover")
    assert d.allocation_units() == [("tdcs-sham", 1), ("sham-tdcs", 1)]
    assert d.crossover is not None
    assert d.crossover.washout_weeks == pytest.approx(2.0)
    assert d.crossover.period_weeks == pytest.approx(1.0)


def test_factorial_levels_control_first():
    d = example_design("factorial")
    assert d.factor_levels() == {"mirror": ["no", "yes"], "rtms": ["sham", "active"]}


def test_yaml_file_roundtrip(tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text(
        "arms:\n  - {name: a}\n  - {name: b, ratio: 2}\nrandomization: {block_sizes: [3, 6]}\n"
    )
    d = load_design(p)
    assert d.allocation_units() == [("a", 1), ("b", 2)]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"randomization": {"block_sizes": [3]}}, "design"),
        ({"n_per_arm": 0}, "design.n_per_arm"),
        ({"arms": [{"name": "a"}]}, "design.arms"),
        ({"unknown": 1}, "design.unknown"),
        ({"outcome": {"visits": [0, 4], "primary_week": 8}}, "design.outcome"),
        ({"simulation": {"rho": 0.9, "icc": 0.5}}, "design.simulation"),
        ({"randomization": {"stratify_by": ["sex"]}}, "design"),
        ({"design": "crossover"}, "design"),
        ({"design": "factorial"}, "design"),
    ],
)
def test_invalid_designs_name_the_field(patch, field):
    with pytest.raises(InputError) as ei:
        load_design({**BASE, **patch})
    assert any(p.field.startswith(field) for p in ei.value.problems), ei.value.problems


def test_washout_needs_unit():
    bad = {
        **BASE,
        "design": "crossover",
        "crossover": {"sequences": [["sham", "active"], ["active", "sham"]], "washout": "2"},
    }
    with pytest.raises(InputError) as ei:
        load_design(bad)
    assert "washout" in ei.value.problems[0].field


def test_bad_files(tmp_path):
    with pytest.raises(InputError):
        load_design(tmp_path / "missing.yaml")
    p = tmp_path / "x.yaml"
    p.write_text("arms: [unclosed\n")
    with pytest.raises(InputError) as ei:
        load_design(p)
    assert "syntax error" in ei.value.problems[0].message
    p.write_text("- just a list\n")
    with pytest.raises(InputError):
        load_design(p)


def test_schema_is_json_schema():
    s = design_schema()
    json.dumps(s)
    assert s["type"] == "object"
    for key in ("arms", "centers", "randomization", "crossover", "simulation"):
        assert key in s["properties"]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["arms", "n_per_arm", "design", "centers", "outcome", "analysis"]),
        st.one_of(st.integers(-5, 5), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
        max_size=4,
    )
)
def test_any_mapping_gives_design_or_clear_error(data):
    try:
        load_design(data)
    except InputError as exc:
        assert exc.problems and all(p.field for p in exc.problems)


def test_default_block_sizes_follow_the_ratio():
    assert load_design(BASE).block_sizes == [4, 6]
    f = example_design("factorial").model_dump()
    f["randomization"].pop("block_sizes")
    assert load_design(f).block_sizes == [8, 12]
    three = {"arms": [{"name": "a"}, {"name": "b"}, {"name": "c", "ratio": 2}]}
    assert load_design(three).block_sizes == [8, 12]


def test_documented_example_is_valid():
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).resolve().parents[2] / "docs" / "trials.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S)
    d = load_design(yaml.safe_load(blocks[0]))
    assert d.strata_factors()["amputation"] == ["upper", "lower"]
    assert d.randomization.minimization_weights == {"center": 1, "amputation": 2}


def test_every_planning_parameter_has_provenance():
    from phantomlab.trials.design import SimulationModel
    from phantomlab.trials.simulate import PROVENANCE, model_card

    numeric = set(SimulationModel.model_fields) - {"clip"}
    assert numeric == set(PROVENANCE)
    card = model_card(example_design("multicenter_sham"))
    assert set(card["kind"]) <= {"source", "calibrated", "assumed"}
    assert (card["note"] != "").all()

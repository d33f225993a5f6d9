"""RoB 2 algorithm (rule table) and ROBINS-I records, case by case.

Domain 1 is checked on all 125 answer combinations against the criteria of the RoB 2
guidance as reproduced in Syst Rev 2021;10:171 Table 2 (PMC8191126), written here
independently of the rule table as plain boolean logic. Domains 2-5 are checked rule
by rule on constructed answers (their guidance text was not read in this session: see
the ``source`` column of ``rob2_algorithm.csv``).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from phantomlab.evidence import load_studies
from phantomlab.evidence.rob import (
    ROB2_DOMAINS,
    load_rob,
    rob2_domain,
    rob2_overall,
    rob2_rules,
    robins_overall,
)
from phantomlab.exceptions import InputError

Y, N = {"Y", "PY"}, {"N", "PN"}


def _d1_table(a1: str, a2: str, a3: str) -> str:
    """RoB 2 domain 1 criteria, PMC8191126 Table 2, as words -> logic."""
    concealed, not_concealed, ni_conc = a2 in Y, a2 in N, a2 == "NI"
    random_or_ni = a1 in Y | {"NI"}
    not_random = a1 in N
    baseline_problem = a3 in Y
    baseline_ok_or_ni = a3 in N | {"NI"}
    if not_concealed or (ni_conc and baseline_problem):
        return "high"
    if concealed and baseline_ok_or_ni and random_or_ni:
        return "low"
    if (concealed and (not_random or baseline_problem)) or (ni_conc and baseline_ok_or_ni):
        return "some_concerns"
    raise AssertionError("combination not covered by the table")


@pytest.mark.parametrize(
    "a1,a2,a3", list(itertools.product(["Y", "PY", "PN", "N", "NI"], repeat=3))
)
def test_domain1_matches_guidance_table(a1: str, a2: str, a3: str) -> None:
    got, fired = rob2_domain(1, {"1.1": a1, "1.2": a2, "1.3": a3})
    assert got == _d1_table(a1, a2, a3)
    assert fired[0].source.startswith("read: ")


def _answers(domain: int, **given: str) -> dict[str, str]:
    qs = ROB2_DOMAINS[domain][1]
    return {q: given.get("q" + q.replace(".", "_"), "NA") for q in qs}


CASES = [
    # domain 2, part 1 (2.6 = Y so part 2 is low and part 1 decides)
    (2, {"q2_1": "N", "q2_2": "PN", "q2_6": "Y"}, "low", "2.1.1"),
    (2, {"q2_1": "Y", "q2_2": "N", "q2_3": "PN", "q2_6": "Y"}, "low", "2.1.2"),
    (2, {"q2_1": "NI", "q2_2": "N", "q2_3": "NI", "q2_6": "Y"}, "some_concerns", "2.1.3"),
    (
        2,
        {"q2_1": "Y", "q2_2": "Y", "q2_3": "Y", "q2_4": "N", "q2_6": "Y"},
        "some_concerns",
        "2.1.4",
    ),
    (
        2,
        {"q2_1": "Y", "q2_2": "Y", "q2_3": "Y", "q2_4": "NI", "q2_5": "PY", "q2_6": "Y"},
        "some_concerns",
        "2.1.5",
    ),
    (
        2,
        {"q2_1": "Y", "q2_2": "Y", "q2_3": "Y", "q2_4": "Y", "q2_5": "N", "q2_6": "Y"},
        "high",
        "2.1.6",
    ),
    # domain 2, part 2 (part 1 low)
    (2, {"q2_1": "N", "q2_2": "N", "q2_6": "N", "q2_7": "PN"}, "some_concerns", "2.2.2"),
    (2, {"q2_1": "N", "q2_2": "N", "q2_6": "NI", "q2_7": "NI"}, "high", "2.2.3"),
    # domain 3
    (3, {"q3_1": "PY"}, "low", "3.1.1"),
    (3, {"q3_1": "N", "q3_2": "Y"}, "low", "3.1.2"),
    (3, {"q3_1": "N", "q3_2": "N", "q3_3": "PN"}, "low", "3.1.3"),
    (3, {"q3_1": "NI", "q3_2": "N", "q3_3": "Y", "q3_4": "PN"}, "some_concerns", "3.1.4"),
    (3, {"q3_1": "NI", "q3_2": "N", "q3_3": "NI", "q3_4": "NI"}, "high", "3.1.5"),
    # domain 4
    (4, {"q4_1": "Y", "q4_2": "N", "q4_3": "N"}, "high", "4.1.1"),
    (4, {"q4_1": "N", "q4_2": "PY", "q4_3": "N"}, "high", "4.1.2"),
    (4, {"q4_1": "N", "q4_2": "N", "q4_3": "PN"}, "low", "4.1.3"),
    (4, {"q4_1": "N", "q4_2": "N", "q4_3": "Y", "q4_4": "N"}, "low", "4.1.4"),
    (
        4,
        {"q4_1": "N", "q4_2": "N", "q4_3": "Y", "q4_4": "Y", "q4_5": "PN"},
        "some_concerns",
        "4.1.5",
    ),
    (4, {"q4_1": "N", "q4_2": "N", "q4_3": "Y", "q4_4": "Y", "q4_5": "NI"}, "high", "4.1.6"),
    (4, {"q4_1": "NI", "q4_2": "NI", "q4_3": "N"}, "some_concerns", "4.1.7"),
    (4, {"q4_1": "N", "q4_2": "NI", "q4_3": "NI", "q4_4": "PN"}, "some_concerns", "4.1.8"),
    (
        4,
        {"q4_1": "N", "q4_2": "NI", "q4_3": "Y", "q4_4": "Y", "q4_5": "N"},
        "some_concerns",
        "4.1.9",
    ),
    (4, {"q4_1": "N", "q4_2": "NI", "q4_3": "Y", "q4_4": "Y", "q4_5": "Y"}, "high", "4.1.10"),
    # domain 5
    (5, {"q5_1": "Y", "q5_2": "PY", "q5_3": "N"}, "high", "5.1.1"),
    (5, {"q5_1": "Y", "q5_2": "N", "q5_3": "Y"}, "high", "5.1.2"),
    (5, {"q5_1": "PY", "q5_2": "N", "q5_3": "PN"}, "low", "5.1.3"),
    (5, {"q5_1": "NI", "q5_2": "N", "q5_3": "N"}, "some_concerns", "5.1.4"),
    (5, {"q5_1": "Y", "q5_2": "NI", "q5_3": "N"}, "some_concerns", "5.1.5"),
]


@pytest.mark.parametrize("domain,given,expected,rule", CASES)
def test_each_rule_fires_on_its_case(
    domain: int, given: dict[str, str], expected: str, rule: str
) -> None:
    got, fired = rob2_domain(domain, _answers(domain, **given))
    assert got == expected
    assert rule in {r.label for r in fired}


def test_every_rule_has_a_case_and_a_source() -> None:
    covered = {c[3] for c in CASES} | {f"1.1.{i}" for i in range(1, 6)} | {"2.2.1"}
    labels = {r.label for r in rob2_rules()}
    assert labels == covered
    assert all(r.source.startswith(("read: ", "not seen: ")) for r in rob2_rules())


def test_domain2_is_the_worse_part() -> None:
    # part 1 low, part 2 high -> high; the ablation (2.6 = Y) makes it low
    base = {"q2_1": "N", "q2_2": "N", "q2_6": "N", "q2_7": "Y"}
    assert rob2_domain(2, _answers(2, **base))[0] == "high"
    assert rob2_domain(2, _answers(2, **{**base, "q2_6": "Y", "q2_7": "NA"}))[0] == "low"


def test_overall_is_least_favourable_domain() -> None:
    assert rob2_overall(["low"] * 5) == "low"
    assert rob2_overall(["low", "some_concerns", "low", "low", "some_concerns"]) == "some_concerns"
    assert rob2_overall(["low", "some_concerns", "high", "low", "low"]) == "high"


@pytest.mark.parametrize(
    "js,expected",
    [
        (["low"] * 7, "low"),
        (["low"] * 6 + ["moderate"], "moderate"),
        (["moderate"] * 6 + ["NI"], "NI"),
        (["NI", "serious"] + ["low"] * 5, "serious"),
        (["serious", "critical"] + ["low"] * 5, "critical"),
    ],
)
def test_robins_overall(js: list[str], expected: str) -> None:
    assert robins_overall(js) == expected


@pytest.mark.parametrize(
    "domain,answers,field",
    [
        (1, {"1.1": "maybe", "1.2": "Y", "1.3": "N"}, "1.1"),
        (1, {"1.1": "NA", "1.2": "Y", "1.3": "N"}, "1.1"),
        (1, {"1.2": "Y", "1.3": "N"}, "1.1"),
        (3, {"3.1": "N", "3.2": "N", "3.3": "NA", "3.4": "NA"}, "domain 3"),
        (9, {}, "domain"),
    ],
)
def test_bad_answers_raise_one_clear_error(
    domain: int, answers: dict[str, str], field: str
) -> None:
    with pytest.raises(InputError) as exc:
        rob2_domain(domain, answers)
    assert exc.value.problems[0].field == field


def test_records_load_and_keep_suggestion_and_source() -> None:
    rob = load_rob()
    frame = rob.to_frame()
    assert (frame.justification.str.len() > 0).all() and (frame.source_where.str.len() > 0).all()
    ids = set(load_studies().study_ids())
    assert set(rob.study_ids) <= ids
    assert rob.overall("malavera2016") == "some_concerns"
    assert rob.overall("albrighttrainer2022") == "high"  # open-label, 3 of 8 missing
    assert rob.overall("nihon2001") == "critical"
    assert rob.overall("bittar2005") is None  # not assessed
    # NI stays NI: nothing in the records is answered beyond what was read
    d1 = [d for d in rob.judgements if d.tool == "rob2" and d.domain == 1]
    assert all(set(d.answers.values()) == {"NI"} for d in d1)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rob2.csv"
    p.write_text(text)
    return p


HEADER = "study_id,result,domain,answers,override,override_reason,justification,source_where\n"


def test_override_is_kept_next_to_the_suggestion(tmp_path: Path) -> None:
    rows = [
        f"x2020,pain,{d},{a},,,why,here\n"
        for d, a in [
            (1, "1.1=Y;1.2=Y;1.3=N"),
            (2, "2.1=N;2.2=N;2.3=NA;2.4=NA;2.5=NA;2.6=Y;2.7=NA"),
            (3, "3.1=Y;3.2=NA;3.3=NA;3.4=NA"),
            (4, "4.1=N;4.2=N;4.3=N;4.4=NA;4.5=NA"),
        ]
    ]
    rows.append("x2020,pain,5,5.1=Y;5.2=N;5.3=N,high,retracted protocol,why,here\n")
    rob = load_rob(_write(tmp_path, HEADER + "".join(rows)))
    d5 = rob.domains("x2020")[-1]
    assert (d5.suggested, d5.override, d5.judgement) == ("low", "high", "high")
    assert rob.overall("x2020") == "high"
    assert "override x2020 D5: low -> high (retracted protocol)" in rob.summary()


def test_override_without_reason_and_missing_domains_are_refused(tmp_path: Path) -> None:
    text = HEADER + "x2020,pain,1,1.1=Y;1.2=Y;1.3=N,high,,why,here\n"
    text += "x2020,pain,2,2.1=N;2.2=N;2.3=NA;2.4=NA;2.5=NA;2.6=Y;2.7=NA,,,why,here\n"
    with pytest.raises(InputError) as exc:
        load_rob(_write(tmp_path, text))
    fields = [p.field for p in exc.value.problems]
    assert any(f.endswith("override_reason") for f in fields)
    assert "x2020.domains" in fields


def test_tool_matches_the_design_in_the_evidence_base() -> None:
    """RoB 2 only for randomized comparisons, ROBINS-I only for the rest."""
    table, rob = load_studies(), load_rob()
    randomized = {"rct_arm", "crossover_arm", "factorial_effect"}
    for s in rob.study_ids:
        roles = {r.design_role for r in table.study(s).records}
        assert (rob.tool(s) == "rob2") == (roles <= randomized), (s, roles)

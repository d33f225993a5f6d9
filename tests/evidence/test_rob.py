"""RoB 2 algorithm (rule table) and ROBINS-I records, case by case.

Domain 1 is checked on all 125 answer combinations against the criteria of the RoB 2
guidance as reproduced in Syst Rev 2021;10:171 Table 2 (PMC8191126), written here
independently of the rule table as plain boolean logic. Domains 2 (effect of assignment
and effect of adhering), 3, 4 and 5 are checked on every consistent answer path against
the guidance's algorithm figures written here as decision trees, and every row of the
rule table must be reached. The overall rule is checked on all 243 domain combinations.
The crossover variant (domain S) was not seen and is not encoded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from phantomlab.evidence import load_studies
from phantomlab.evidence.rob import load_rob, robins_overall
from phantomlab.evidence.rob2_tool import (
    ROB2_LEVELS,
    rob2_domain,
    rob2_overall,
    rob2_questions,
    rob2_rules,
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


YN = Y | N
ANY = ("Y", "PY", "PN", "N", "NI")
Tree = Callable[[dict[str, str]], str]


# --- the guidance's algorithm figures written as decision trees (22 Aug 2019 guidance,
# as transcribed in InfinityBowman/corates ROB2Checklist/scoring/decision-diagrams/), written
# here as nested ifs, independently of the first-match rule table in rob2_algorithm.csv.


def _tree_d2_assignment(a: dict[str, str]) -> str:
    if a["2.1"] in N and a["2.2"] in N:
        p1 = "low"
    elif a["2.3"] in N:
        p1 = "low"
    elif a["2.3"] == "NI":
        p1 = "some_concerns"
    elif a["2.4"] in N:
        p1 = "some_concerns"
    elif a["2.5"] in Y:
        p1 = "some_concerns"
    else:
        p1 = "high"
    if a["2.6"] in Y:
        p2 = "low"
    elif a["2.7"] in N:
        p2 = "some_concerns"
    else:
        p2 = "high"
    return rob2_overall([p1, p2])  # "criteria for the domain": the worse part


def _tree_d2_adherence(a: dict[str, str]) -> str:
    aware = a["2.1"] not in N or a["2.2"] not in N
    if aware and a["2.3"] not in {"NA"} | Y:
        return "some_concerns" if a["2.6"] in Y else "high"
    if a["2.4"] in {"NA"} | N and a["2.5"] in {"NA"} | N:
        return "low"
    return "some_concerns" if a["2.6"] in Y else "high"


def _tree_d3(a: dict[str, str]) -> str:
    if a["3.1"] in Y or a["3.2"] in Y or a["3.3"] in N:
        return "low"
    return "some_concerns" if a["3.4"] in N else "high"


def _tree_d4(a: dict[str, str]) -> str:
    if a["4.1"] in Y or a["4.2"] in Y:
        return "high"
    known = a["4.2"] in N  # the N/PN branch; the other one is 4.2 = NI
    if a["4.3"] in N or a["4.4"] in N:
        return "low" if known else "some_concerns"
    return "some_concerns" if a["4.5"] in N else "high"


def _tree_d5(a: dict[str, str]) -> str:
    if a["5.2"] in Y or a["5.3"] in Y:
        return "high"
    if a["5.2"] in N and a["5.3"] in N:
        return "low" if a["5.1"] in Y else "some_concerns"
    return "some_concerns"


# When each question is asked, from the "If ... to ..." headers of the guidance text,
# with the response options printed there (NA only for conditional questions).
ASKED: dict[tuple[int, str], list[tuple[str, tuple[str, ...], Callable[..., bool]]]] = {
    (2, "assignment"): [
        ("2.1", ANY, lambda a: True),
        ("2.2", ANY, lambda a: True),
        ("2.3", ANY, lambda a: a["2.1"] not in N or a["2.2"] not in N),
        ("2.4", ANY, lambda a: a.get("2.3") in Y),
        ("2.5", ANY, lambda a: a.get("2.4") in Y | {"NI"}),
        ("2.6", ANY, lambda a: True),
        ("2.7", ANY, lambda a: a["2.6"] in N | {"NI"}),
    ],
    (2, "adherence"): [  # 2.3-2.5 "[if applicable]": NA allowed even when asked
        ("2.1", ANY, lambda a: True),
        ("2.2", ANY, lambda a: True),
        ("2.3", (*ANY, "NA"), lambda a: a["2.1"] not in N or a["2.2"] not in N),
        ("2.4", (*ANY, "NA"), lambda a: True),
        ("2.5", (*ANY, "NA"), lambda a: True),
        (
            "2.6",
            ANY,
            lambda a: a["2.3"] in N | {"NI"} or a["2.4"] in Y | {"NI"} or a["2.5"] in Y | {"NI"},
        ),
    ],
    (3, ""): [
        ("3.1", ANY, lambda a: True),
        ("3.2", ("Y", "PY", "PN", "N"), lambda a: a["3.1"] not in Y),
        ("3.3", ANY, lambda a: a.get("3.2") in N),
        ("3.4", ANY, lambda a: a.get("3.3") in Y | {"NI"}),
    ],
    (4, ""): [
        ("4.1", ANY, lambda a: True),
        ("4.2", ANY, lambda a: True),
        ("4.3", ANY, lambda a: a["4.1"] not in Y and a["4.2"] not in Y),
        ("4.4", ANY, lambda a: a.get("4.3") in Y | {"NI"}),
        ("4.5", ANY, lambda a: a.get("4.4") in Y | {"NI"}),
    ],
    (5, ""): [(q, ANY, lambda a: True) for q in ("5.1", "5.2", "5.3")],
}
TREES: dict[tuple[int, str], Tree] = {
    (2, "assignment"): _tree_d2_assignment,
    (2, "adherence"): _tree_d2_adherence,
    (3, ""): _tree_d3,
    (4, ""): _tree_d4,
    (5, ""): _tree_d5,
}


def _paths(spec: list[tuple[str, tuple[str, ...], Callable[..., bool]]]) -> list[dict[str, str]]:
    """Every complete, consistent answer set: asked questions answered, the others NA."""
    out: list[dict[str, str]] = [{}]
    for q, options, asked in spec:
        nxt = []
        for a in out:
            for x in options if asked(a) else ("NA",):
                nxt.append({**a, q: x})
        out = nxt
    return out


@pytest.mark.parametrize("key", list(TREES), ids=lambda k: f"D{k[0]}{k[1] and '-' + k[1]}")
def test_domain_algorithm_matches_the_guidance_figure_on_every_path(
    key: tuple[int, str],
) -> None:
    domain, variant = key
    paths = _paths(ASKED[key])
    fired: set[str] = set()
    wrong = []
    for a in paths:
        got, rules = rob2_domain(domain, a, variant=variant or "assignment")
        fired |= {r.label for r in rules}
        if got != TREES[key](a):
            wrong.append((a, got))
    assert not wrong, wrong[:3]
    # every row of the rule table is reached by some path (no dead or untested row)
    v = variant if domain == 2 else ""
    labels = {r.label for r in rob2_rules() if r.domain == domain and r.variant == v}
    assert fired == labels
    assert len(paths) > 10


def test_each_judgement_is_reachable_and_each_rule_is_read() -> None:
    for key, tree in TREES.items():
        assert {tree(a) for a in _paths(ASKED[key])} == set(ROB2_LEVELS), key
    assert all(r.source.startswith("read: ") for r in rob2_rules())
    assert all(q.source.startswith("read: ") for q in rob2_questions())


def test_question_table_matches_the_guidance_conditions() -> None:
    """The asked_if column of rob2_questions.csv against the guidance headers above."""
    for (domain, variant), spec in ASKED.items():
        qs = {
            q.question: q
            for q in rob2_questions()
            if q.domain == domain and q.variant == (variant if domain == 2 else "")
        }
        assert list(qs) == [q for q, _, _ in spec]
        for a in _paths(spec):
            for q, _, asked in spec:
                assert qs[q].asked(a) == asked(a), (q, a)


def test_domain2_is_the_worse_part() -> None:
    base = {"2.1": "N", "2.2": "N", "2.3": "NA", "2.4": "NA", "2.5": "NA"}
    # part 1 low, part 2 high -> high; the ablation (2.6 = Y) makes it low
    assert rob2_domain(2, {**base, "2.6": "N", "2.7": "Y"})[0] == "high"
    assert rob2_domain(2, {**base, "2.6": "Y", "2.7": "NA"})[0] == "low"


def test_adherence_variant_differs_from_assignment() -> None:
    # blinded trial, no implementation failures, adherence fine: low in both
    blind = {"2.1": "N", "2.2": "N", "2.3": "NA", "2.4": "N", "2.5": "N", "2.6": "NA"}
    assert rob2_domain(2, blind, variant="adherence")[0] == "low"
    # poor adherence analysed per protocol naively (2.6 = N) -> high for adherence
    poor = {**blind, "2.5": "Y", "2.6": "N"}
    assert rob2_domain(2, poor, variant="adherence")[0] == "high"
    with pytest.raises(InputError) as exc:  # 2.7 is not a question of this variant
        rob2_domain(2, {**poor, "2.7": "NA"}, variant="adherence")
    assert exc.value.problems[0].field == "answers"
    with pytest.raises(InputError):
        rob2_domain(2, poor, variant="per-protocol")


def test_overall_matches_the_guidance_criteria() -> None:
    """Guidance 'Overall risk-of-bias judgement', all 243 combinations: low = all low;
    high = at least one high; some concerns = some concerns in one or more, high in none."""
    for js in itertools.product(ROB2_LEVELS, repeat=5):
        if all(j == "low" for j in js):
            expected = "low"
        elif any(j == "high" for j in js):
            expected = "high"
        else:
            expected = "some_concerns"
        assert rob2_overall(list(js)) == expected, js


def test_overall_refuses_unknown_judgements() -> None:
    with pytest.raises(InputError):
        rob2_overall(["low", "unclear"])
    with pytest.raises(InputError):
        rob2_overall([])


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
        (3, {"3.1": "N", "3.2": "N", "3.3": "NA", "3.4": "NA"}, "3.3"),
        (3, {"3.1": "N", "3.2": "NI", "3.3": "NA", "3.4": "NA"}, "3.2"),
        (3, {"3.1": "Y", "3.2": "N", "3.3": "NA", "3.4": "NA"}, "3.2"),
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

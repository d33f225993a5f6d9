"""The error contract's core pieces: one bounded line per problem, memory checked first."""

from __future__ import annotations

import resource

import pytest

from phantomlab._validation import available_memory, check_memory
from phantomlab.exceptions import MAX_VALUE_CHARS, InputError, Problem, one_line


def test_one_line_strips_control_characters_and_cuts() -> None:
    assert one_line("a\nb\r\tc\u2028d") == "a b c d"
    cut = one_line("x" * 10_000, 100)
    assert cut.startswith("x" * 100) and cut.endswith("(9900 more characters)")
    assert "\n" not in cut and len(cut) < 140


def test_problem_line_is_one_short_line_whatever_the_value() -> None:
    p = Problem("spec", "line one\nline two\n" * 50_000, "a name", "", "unknown\nstudy")
    line = p.line()
    assert "\n" not in line
    assert len(line) < MAX_VALUE_CHARS + 600
    assert line.startswith("spec = line one line two")
    # a short value is shown whole (the cut is not a rewrite)
    assert Problem("n", 5, ">= 1", "", "too small").line() == "n = 5: too small (allowed: >= 1)"


def test_input_error_text_is_one_line_per_problem() -> None:
    err = InputError([Problem("a", "x\ny", "", "", "bad"), Problem("b", 1, "", "", "worse")])
    assert str(err).splitlines() == ["a = x y: bad", "b = 1: worse"]


def test_available_memory_follows_the_address_space_limit() -> None:
    """With RLIMIT_AS lowered, the estimate shrinks to what the limit leaves."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as fh:
        held = int(fh.read().split()[0]) * resource.getpagesize()
    room = 256 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (held + room, hard))
    try:
        free = available_memory()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert 0 < free <= room
    assert available_memory() > free  # the limit lifted, more is available again


def test_check_memory_refuses_only_what_does_not_fit() -> None:
    assert check_memory("n", 10, 1e3) == []
    (problem,) = check_memory("n", 10**12, 1e18, what="the table")
    assert problem.field == "n" and "the table would need about" in problem.message


def test_cohort_run_refuses_a_size_before_allocating() -> None:
    """n_patients x days beyond free memory is an InputError, not a MemoryError."""
    from phantomlab.mechanisms import Cohort

    cohort = Cohort(20_000, "reorganization", rng=0)
    with pytest.raises(InputError, match="n_patients x days"):
        cohort.run(36_500)  # about 70 GB of daily read-outs
    # ablation: a size that fits runs (the check is not a blanket refusal)
    assert cohort.run(1, record=False).nrs.shape[-1] == 20_000

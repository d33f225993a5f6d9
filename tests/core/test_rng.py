"""Semantics of the one seed-spawning helper, ``phantomlab._rng.child_seeds``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from phantomlab._rng import child_seeds, spawn
from phantomlab.exceptions import InputError
from phantomlab.mechanisms.patient import Cohort


def _keys(seeds: list[np.random.SeedSequence]) -> list[tuple[object, tuple[int, ...]]]:
    return [(s.entropy, tuple(s.spawn_key)) for s in seeds]


def _draws(seeds: list[np.random.SeedSequence]) -> list[float]:
    return [float(np.random.default_rng(s).random()) for s in seeds]


def test_default_does_not_advance_a_seed_sequence() -> None:
    ss = np.random.SeedSequence(2026)
    a = child_seeds(ss, 3)
    b = child_seeds(ss, 3)
    assert ss.n_children_spawned == 0
    assert _keys(a) == _keys(b) and _draws(a) == _draws(b)
    # the first n children of a fresh copy, whatever the object spawned before
    ss.spawn(5)
    assert _keys(child_seeds(ss, 3)) == _keys(np.random.SeedSequence(2026).spawn(3))
    assert ss.n_children_spawned == 5


def test_advance_spawns_from_a_seed_sequence() -> None:
    ss = np.random.SeedSequence(2026)
    a = child_seeds(ss, 3, advance=True)
    assert ss.n_children_spawned == 3
    b = child_seeds(ss, 2, advance=True)
    assert ss.n_children_spawned == 5
    ref = np.random.SeedSequence(2026).spawn(5)
    assert _keys(a + b) == _keys(ref)
    assert _draws(a)[:2] != _draws(b)


def test_integer_seed_is_the_same_either_way() -> None:
    ref = _keys(np.random.SeedSequence(7).spawn(4))
    assert _keys(child_seeds(7, 4)) == ref
    assert _keys(child_seeds(7, 4, advance=True)) == ref
    assert _keys(child_seeds(np.int64(7), 4)) == ref
    assert child_seeds(7, 0) == []


def test_a_generator_is_always_advanced() -> None:
    for advance in (False, True):
        g = np.random.default_rng(np.random.SeedSequence(3))
        a = child_seeds(g, 2, advance=advance)
        b = child_seeds(g, 2, advance=advance)
        assert g.bit_generator.seed_seq.n_children_spawned == 4  # type: ignore[attr-defined]
        assert _keys(a + b) == _keys(np.random.SeedSequence(3).spawn(4))


def test_children_do_not_depend_on_how_many_are_taken() -> None:
    assert _keys(child_seeds(11, 6)[:3]) == _keys(child_seeds(11, 3))
    ss = np.random.SeedSequence(11)
    assert _keys(child_seeds(ss, 6)[:3]) == _keys(child_seeds(ss, 3))


def test_one_and_n_workers_give_the_same_numbers() -> None:
    seeds = child_seeds(np.random.SeedSequence(5), 8)
    serial = _draws(seeds)
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(lambda s: float(np.random.default_rng(s).random()), seeds))
    assert serial == parallel
    a = Cohort(300, rng=np.random.SeedSequence(4), n_workers=1, block_size=64).run(3)
    b = Cohort(300, rng=np.random.SeedSequence(4), n_workers=3, block_size=64).run(3)
    assert np.array_equal(a.nrs, b.nrs) and np.array_equal(a.pain, b.pain)


def test_spawn_gives_generators_of_advancing_children() -> None:
    ss = np.random.SeedSequence(9)
    gens = spawn(ss, 2)
    assert ss.n_children_spawned == 2
    ref = [np.random.default_rng(s).random() for s in np.random.SeedSequence(9).spawn(2)]
    assert [g.random() for g in gens] == ref


@pytest.mark.parametrize(
    ("rng", "n", "field"),
    [
        (1, -1, "n"),
        (1, 2.5, "n"),
        (1, True, "n"),
        (-3, 2, "rng"),
        ("x", 2, "rng"),
        (True, 2, "rng"),
    ],
)
def test_bad_input_names_the_field(rng: object, n: object, field: str) -> None:
    with pytest.raises(InputError) as exc:
        child_seeds(rng, n)  # type: ignore[arg-type]
    assert exc.value.problems[0].field == field

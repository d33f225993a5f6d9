"""Explicit random number generators (SPEC 7): no global seeding anywhere.

Every stochastic function takes ``rng`` (a :class:`numpy.random.Generator`, a
seed, or a :class:`numpy.random.SeedSequence`). Parallel work derives child
streams with :func:`spawn`, so results are identical with 1 or N workers.
"""

from __future__ import annotations

import numpy as np

from phantomlab.exceptions import InputError, Problem

RNGLike = np.random.Generator | np.random.SeedSequence | int | None

__all__ = ["RNGLike", "as_generator", "spawn", "spawn_seeds"]


def as_generator(rng: RNGLike) -> np.random.Generator:
    """Return a Generator from a Generator, seed or SeedSequence.

    Parameters
    ----------
    rng : Generator, SeedSequence, int or None
        ``None`` gives fresh OS entropy (not reproducible); pass a seed for
        reproducible work.

    Returns
    -------
    numpy.random.Generator
        The generator (the same object if one was passed).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool):
        raise InputError(
            Problem("rng", rng, "Generator, SeedSequence, int >= 0 or None", "", "not a seed")
        )
    if isinstance(rng, np.random.SeedSequence) or rng is None:
        return np.random.default_rng(rng)
    if isinstance(rng, int | np.integer):
        if rng < 0:
            raise InputError(Problem("rng", rng, "int >= 0", "", "seed must be non-negative"))
        return np.random.default_rng(int(rng))
    raise InputError(
        Problem(
            "rng",
            rng,
            "Generator, SeedSequence, int >= 0 or None",
            "",
            f"cannot make a generator from {type(rng).__name__}",
        )
    )


def spawn_seeds(rng: RNGLike, n: int) -> list[np.random.SeedSequence]:
    """Derive ``n`` independent child seed sequences.

    The children depend only on ``rng`` and ``n``, never on how many workers
    later consume them, which makes parallel runs bit-identical to serial ones.

    Parameters
    ----------
    rng : Generator, SeedSequence, int or None
        Parent randomness.
    n : int
        Number of children.

    Returns
    -------
    list of SeedSequence
        Child seed sequences.
    """
    if isinstance(rng, np.random.Generator):
        seq = rng.bit_generator.seed_seq
        if not isinstance(seq, np.random.SeedSequence):
            seq = np.random.SeedSequence(int(rng.integers(2**63)))
        return list(seq.spawn(n))
    if isinstance(rng, np.random.SeedSequence):
        return list(rng.spawn(n))
    return list(np.random.SeedSequence(rng).spawn(n))


def spawn(rng: RNGLike, n: int) -> list[np.random.Generator]:
    """Derive ``n`` independent child generators (see :func:`spawn_seeds`).

    Parameters
    ----------
    rng : Generator, SeedSequence, int or None
        Parent randomness.
    n : int
        Number of children.

    Returns
    -------
    list of Generator
        Child generators.
    """
    return [np.random.default_rng(s) for s in spawn_seeds(rng, n)]

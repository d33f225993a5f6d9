"""Explicit random number generators (SPEC 7): no global seeding anywhere.

Every stochastic function takes ``rng`` (a :class:`numpy.random.Generator`, a
seed, or a :class:`numpy.random.SeedSequence`). Parallel work derives child
seeds with :func:`child_seeds` (or generators with :func:`spawn`), so results
are identical with 1 or N workers.
"""

from __future__ import annotations

import numpy as np

from phantomlab.exceptions import InputError, Problem

RNGLike = np.random.Generator | np.random.SeedSequence | int | None

__all__ = ["RNGLike", "as_generator", "child_seeds", "spawn"]


def _seed_value(rng: object) -> int | None:
    """Check an integer seed (or ``None``) and return it as ``int``."""
    if rng is None:
        return None
    if isinstance(rng, bool):
        raise InputError(
            Problem("rng", rng, "Generator, SeedSequence, int >= 0 or None", "", "not a seed")
        )
    if not isinstance(rng, int | np.integer):
        raise InputError(
            Problem(
                "rng",
                rng,
                "Generator, SeedSequence, int >= 0 or None",
                "",
                f"cannot make a generator from {type(rng).__name__}",
            )
        )
    if rng < 0:
        raise InputError(Problem("rng", rng, "int >= 0", "", "seed must be non-negative"))
    return int(rng)


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

    Raises
    ------
    InputError
        If ``rng`` is not a seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    return np.random.default_rng(_seed_value(rng))


def child_seeds(rng: RNGLike, n: int, *, advance: bool = False) -> list[np.random.SeedSequence]:
    """Derive ``n`` independent child seed sequences of ``rng``.

    This is the one seed-spawning helper of PhantomLab. The children depend only on
    ``rng``, ``n`` and ``advance``, never on how many workers later consume them, so
    parallel runs are bit-identical to serial ones. What happens to ``rng``:

    * ``int`` or ``None``: the children of the fresh ``SeedSequence(rng)``, i.e.
      ``SeedSequence(rng).spawn(n)`` (``advance`` has nothing to advance);
    * :class:`~numpy.random.SeedSequence`, ``advance=False`` (default): stateless. The
      children are ``SeedSequence(entropy, spawn_key=(*spawn_key, j), pool_size)`` for
      ``j = 0 .. n-1``, the first ``n`` children of a fresh copy of ``rng``; ``rng`` is not
      changed, so calling again with the same object gives the same children;
    * :class:`~numpy.random.SeedSequence`, ``advance=True``: ``rng.spawn(n)``. The
      children continue after those spawned before and ``rng.n_children_spawned`` grows
      by ``n``, so calling again gives new children (numpy's own semantics);
    * :class:`~numpy.random.Generator`: a stream, always advanced whatever ``advance``
      says: its seed sequence spawns (as with ``advance=True``), or, for a generator
      without one, the children of a seed drawn from it.

    Parameters
    ----------
    rng : Generator, SeedSequence, int or None
        Parent randomness.
    n : int
        Number of children (>= 0).
    advance : bool, default False
        Whether a :class:`~numpy.random.SeedSequence` parent is advanced (see above).

    Returns
    -------
    list of SeedSequence
        Child seed sequences.

    Raises
    ------
    InputError
        If ``n`` is not a non-negative integer or ``rng`` is not a seed.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise InputError(Problem("n", n, "int >= 0", "", "number of child seeds"))
    if isinstance(rng, np.random.Generator):
        seq = rng.bit_generator.seed_seq
        if not isinstance(seq, np.random.SeedSequence):
            seq = np.random.SeedSequence(int(rng.integers(2**63)))
        return list(seq.spawn(int(n)))
    if isinstance(rng, np.random.SeedSequence):
        if advance:
            return list(rng.spawn(int(n)))
        base = rng
    else:
        base = np.random.SeedSequence(_seed_value(rng))
    return [
        np.random.SeedSequence(
            base.entropy, spawn_key=(*base.spawn_key, j), pool_size=base.pool_size
        )
        for j in range(int(n))
    ]


def spawn(rng: RNGLike, n: int) -> list[np.random.Generator]:
    """Derive ``n`` independent child generators, advancing ``rng``.

    The generators of ``child_seeds(rng, n, advance=True)`` (see :func:`child_seeds`):
    a :class:`~numpy.random.SeedSequence` or generator parent gives new children on
    every call, an integer seed always the same ones.

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
    return [np.random.default_rng(s) for s in child_seeds(rng, n, advance=True)]

"""Randomization for real trials: stratified permuted blocks and minimization.

* :func:`permuted_blocks` pre-generates an allocation list per stratum (every
  combination of the stratification factors), made of blocks whose size is drawn
  at random from ``block_sizes`` (as R ``blockrand`` does per stratum). Within a
  block every arm appears exactly ``ratio * size / sum(ratio)`` times.
* :func:`minimize` implements Pocock & Simon (1975, Biometrics 31:103-115)
  minimization with the *range* imbalance function, factor weights and a biased
  coin ``p``; it needs the participants' covariates in order of arrival.
* :class:`AllocationList` carries the list, writes it as CSV, seals it with a
  SHA-256 digest (allocation concealment: the digest can be published or
  lodged with a trial registry before recruitment, then the list checked
  against it), and writes a blinded sheet with opaque envelope codes.

Every function takes an explicit ``rng``; the same seed gives the same list.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._io import atomic_write, existing, frame_csv_bytes
from phantomlab._result import Result, as_figure, new_axes
from phantomlab._rng import RNGLike, as_generator
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AllocationList",
    "minimize",
    "permuted_blocks",
    "randomize",
    "refuse_sealed",
    "sha256_of_file",
    "simple_randomization",
    "verify_allocation_list",
]

_COLUMNS = ["stratum", "seq", "block", "block_size", "allocation"]


@dataclass(frozen=True, repr=False)
class AllocationList(Result):
    """An allocation list (one row per slot or participant).

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``stratum``, ``seq`` (1-based position within the stratum),
        ``block``, ``block_size``, ``allocation`` and one column per
        stratification factor (permuted blocks), or ``participant`` and the
        covariates (minimization / simple).
    method : str
        Randomization method.
    seed : str
        The seed the list was generated from (record it in the trial master file,
        not in the clinic).
    design_name : str
        Name of the design.
    meta : dict
        Extra information (block sizes, strata, ``p``).
    """

    table: pd.DataFrame
    method: str
    seed: str
    design_name: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the allocation table."""
        return self.table.copy()

    def csv_bytes(self) -> bytes:
        """Return the canonical CSV encoding (UTF-8, LF line ends) of the list.

        Text cells that a spreadsheet would run as a formula (first character ``=``,
        ``+``, ``-``, ``@``, tab, CR, NUL - e.g. a covariate label ``=HYPERLINK(...)``)
        get a leading ``'`` (:func:`phantomlab._io.escape_csv_frame`); numbers are kept.
        """
        return frame_csv_bytes(self.table)

    def digest(self) -> str:
        """Return the SHA-256 hex digest of :meth:`csv_bytes` (the seal)."""
        return hashlib.sha256(self.csv_bytes()).hexdigest()

    def to_csv(self, path: str | Path, *, seal: bool = True) -> str:
        """Write the list as CSV and (by default) its digest next to it - never over a file.

        Both files are written atomically (temporary file, fsync, link into place) with
        mode 0600, and neither replaces an existing file: a sealed allocation list is
        never overwritten, whatever the options (move the old one away deliberately).

        Parameters
        ----------
        path : str or Path
            Output CSV file.
        seal : bool
            Also write ``<path>.sha256`` (``sha256sum`` format).

        Returns
        -------
        str
            The SHA-256 hex digest of the written file.

        Raises
        ------
        InputError
            If the list or its ``.sha256`` already exists (nothing is written).
        """
        path = Path(path)
        targets = [path, Path(f"{path}.sha256")] if seal else [path]
        refuse_sealed(targets)
        data = self.csv_bytes()
        digest = hashlib.sha256(data).hexdigest()
        atomic_write(path, data, private=True, field="output")
        if seal:
            atomic_write(targets[1], f"{digest}  {path.name}\n", private=True, field="output")
        return digest

    def sealed_envelopes(self, rng: RNGLike) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the list into a blinded sheet and a key, linked by envelope codes.

        The sheet (for recruiters) lists stratum, position and an opaque
        8-character envelope code; the key (for the independent statistician or
        pharmacy) maps each code to the allocation.

        Parameters
        ----------
        rng : Generator, SeedSequence or int
            Randomness for the codes (use a different seed from the list's).

        Returns
        -------
        (pandas.DataFrame, pandas.DataFrame)
            The blinded sheet and the key.
        """
        g = as_generator(rng)
        alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
        n = len(self.table)
        codes: list[str] = []
        seen: set[str] = set()
        while len(codes) < n:
            for row in g.integers(0, len(alphabet), size=(n - len(codes), 8)):
                c = "".join(alphabet[row])
                if c not in seen:
                    seen.add(c)
                    codes.append(c)
        keep = [c for c in self.table.columns if c not in ("allocation", "block", "block_size")]
        sheet = self.table[keep].copy()
        sheet["envelope"] = codes
        key = pd.DataFrame({"envelope": codes, "allocation": self.table["allocation"].to_numpy()})
        return sheet, key

    def counts(self) -> pd.DataFrame:
        """Return allocations per stratum (rows) and arm (columns)."""
        return pd.crosstab(self.table["stratum"], self.table["allocation"])

    def plot(self, ax: Any = None) -> Figure:
        """Bar chart of the allocations per stratum, one bar segment per arm.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        ax = new_axes(ax)
        counts = self.counts()
        bottom = np.zeros(len(counts))
        for arm in counts.columns:
            vals = counts[arm].to_numpy(float)
            ax.bar(range(len(counts)), vals, bottom=bottom, label=str(arm))
            bottom += vals
        ax.set_xticks(range(len(counts)), [str(i) for i in counts.index], rotation=45, ha="right")
        ax.set_ylabel("allocations")
        ax.legend(fontsize=8)
        ax.set_title(f"{self.design_name}: {self.method}")
        return as_figure(ax)

    def _brief(self) -> str:
        return f"{self.design_name!r}, {self.method}, {len(self.table)} rows"

    def summary(self) -> str:
        """Return a short text summary (method, seed digest, counts per arm)."""
        tot = self.table["allocation"].value_counts().sort_index()
        lines = [
            f"Allocation list for {self.design_name!r}: {self.method}, {len(self.table)} rows",
            f"SHA-256: {self.digest()}",
            "Totals: " + ", ".join(f"{k}={v}" for k, v in tot.items()),
        ]
        if "block_size" in self.table:
            bs = sorted(
                int(v)
                for v in self.table.drop_duplicates(["stratum", "block"])["block_size"].unique()
            )
            lines.append(f"Strata: {self.table['stratum'].nunique()}; block sizes used: {bs}")
        return "\n".join(lines)


def sha256_of_file(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file.

    Parameters
    ----------
    path : str or Path
        File.

    Returns
    -------
    str
        Hex digest.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refuse_sealed(paths: list[Path] | list[str]) -> None:
    """Raise ``InputError`` if any of the allocation-list files exists (they are never replaced).

    Parameters
    ----------
    paths : list of Path or str
        The list, its ``.sha256``, envelope sheet and key.
    """
    found = existing(paths)
    if found:
        raise InputError(
            [
                Problem(
                    "output",
                    f,
                    "a new file name",
                    "",
                    "exists; a sealed allocation list and its companions are never "
                    "replaced (not even with --force): choose another name, or move the "
                    "old list away deliberately",
                )
                for f in found
            ]
        )


def verify_allocation_list(path: str | Path, digest: str | None = None) -> bool:
    """Check an allocation list file against its sealed digest.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    digest : str or None
        Expected hex digest; read from ``<path>.sha256`` if omitted.

    Returns
    -------
    bool
        True if the file is unchanged.
    """
    if digest is None:
        side = Path(f"{path}.sha256")
        if not side.exists():
            raise InputError(
                Problem("digest", str(side), "an existing .sha256 file", "", "missing")
            )
        digest = side.read_text().split()[0]
    return sha256_of_file(path) == digest.strip().lower()


def _seed_text(rng: RNGLike) -> str:
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return str(int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return str(rng.entropy)
    return "generator"


def _units(design: TrialDesign) -> tuple[list[str], np.ndarray]:
    units = design.allocation_units()
    return [u for u, _ in units], np.array([r for _, r in units], dtype=int)


def _blocks_for(
    n: int, names: list[str], ratios: np.ndarray, sizes: list[int], g: np.random.Generator
) -> tuple[list[str], list[int], list[int]]:
    """Allocations, block ids and block sizes until at least ``n`` slots exist."""
    alloc: list[str] = []
    block_id: list[int] = []
    block_size: list[int] = []
    unit = int(ratios.sum())
    b = 0
    while len(alloc) < n:
        size = int(sizes[int(g.integers(len(sizes)))])
        content = np.repeat(np.arange(len(names)), ratios * (size // unit))
        perm = g.permutation(content)
        b += 1
        alloc.extend(names[i] for i in perm)
        block_id.extend([b] * size)
        block_size.extend([size] * size)
    return alloc, block_id, block_size


def permuted_blocks(
    design: TrialDesign,
    rng: RNGLike,
    *,
    per_stratum: int | None = None,
    block_sizes: list[int] | None = None,
) -> AllocationList:
    """Generate a stratified permuted-block allocation list.

    Parameters
    ----------
    design : TrialDesign
        Arms (or crossover sequences), ratios, strata and block sizes.
    rng : Generator, SeedSequence or int
        Randomness; the same seed gives the same list.
    per_stratum : int or None
        Slots to generate per stratum (whole blocks are always completed, so a
        stratum may get a few more). Default: the expected stratum size plus
        15 % (REDCap sizing advice), at least one largest block.
    block_sizes : list of int or None
        Override ``design.randomization.block_sizes``.

    Returns
    -------
    AllocationList
        One row per slot, ordered by stratum then position.
    """
    g = as_generator(rng)
    names, ratios = _units(design)
    sizes = list(block_sizes or design.block_sizes)
    unit = int(ratios.sum())
    bad = [s for s in sizes if s < 1 or s % unit]
    problems = []
    if bad:
        problems.append(
            Problem("block_sizes", bad, f"multiples of {unit}", "", "not a multiple of the ratio")
        )
    if per_stratum is not None and not 1 <= int(per_stratum) <= 1_000_000:
        problems.append(
            Problem("per_stratum", per_stratum, ">= 1 and <= 1000000", "", "out of range")
        )
    if problems:
        raise InputError(problems)
    factors = design.strata_factors()
    combos: list[tuple[str, ...]] = list(itertools.product(*factors.values())) if factors else [()]
    n_total = design.n_per_arm * unit
    probs = _stratum_probabilities(design, factors, combos)
    frames = []
    for combo, p in zip(combos, probs, strict=True):
        n = per_stratum if per_stratum is not None else max(math.ceil(1.15 * n_total * p), 1)
        n = max(int(n), 1)
        alloc, bid, bsz = _blocks_for(n, names, ratios, sizes, g)
        label = "|".join(combo) if combo else "all"
        df = pd.DataFrame(
            {
                "stratum": label,
                "seq": np.arange(1, len(alloc) + 1),
                "block": bid,
                "block_size": bsz,
                "allocation": alloc,
            }
        )
        for k, v in zip(factors, combo, strict=True):
            df[k] = v
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    return AllocationList(
        table=table,
        method="permuted_blocks",
        seed=_seed_text(rng),
        design_name=design.name,
        meta={"block_sizes": sizes, "strata": list(factors), "units": names},
    )


def _stratum_probabilities(
    design: TrialDesign, factors: dict[str, list[str]], combos: list[tuple[str, ...]]
) -> list[float]:
    """Return the expected share of participants in each stratum (independent factors)."""
    margin: dict[str, dict[str, float]] = {}
    w = np.array([c.weight for c in design.centers], dtype=float)
    margin["center"] = dict(
        zip([c.name for c in design.centers], (w / w.sum()).tolist(), strict=True)
    )
    for cov in design.covariates:
        p = cov.probabilities or [1.0 / len(cov.levels)] * len(cov.levels)
        margin[cov.name] = dict(zip(cov.levels, p, strict=True))
    out = []
    for combo in combos:
        out.append(float(np.prod([margin[k][v] for k, v in zip(factors, combo, strict=True)])))
    return out


def simple_randomization(design: TrialDesign, n: int, rng: RNGLike) -> AllocationList:
    """Generate a simple (unrestricted) randomization list of ``n`` allocations.

    Parameters
    ----------
    design : TrialDesign
        Arms and ratios.
    n : int
        Number of participants.
    rng : Generator, SeedSequence or int
        Randomness.

    Returns
    -------
    AllocationList
        Rows ``stratum="all"``, ``seq``, ``allocation``.
    """
    g = as_generator(rng)
    names, ratios = _units(design)
    idx = g.choice(len(names), size=int(n), p=ratios / ratios.sum())
    table = pd.DataFrame(
        {"stratum": "all", "seq": np.arange(1, n + 1), "allocation": np.array(names)[idx]}
    )
    return AllocationList(table, "simple", _seed_text(rng), design.name, {"units": names})


def minimize(
    design: TrialDesign,
    participants: pd.DataFrame,
    rng: RNGLike,
    *,
    p: float | None = None,
) -> AllocationList:
    """Allocate participants in arrival order by Pocock-Simon minimization.

    For a new participant with levels ``l_f`` of each factor ``f``, and for each
    candidate arm ``k``, the counts ``n_{f,l_f,j}`` of previous participants with
    the same level in arm ``j`` are updated as if the participant joined ``k`` and
    divided by the arm's ratio; the imbalance is
    ``G_k = sum_f w_f * (max_j - min_j)`` (range function of Pocock & Simon 1975).
    The arm with the smallest ``G_k`` (ties broken at random) is chosen with
    probability ``p``; otherwise one of the other arms at random. The first
    participant is allocated at random.

    Parameters
    ----------
    design : TrialDesign
        Arms, ratios, the factors (``randomization.stratify_by``) and weights.
    participants : pandas.DataFrame
        One row per participant in arrival order, with a column per factor
        (``center`` and/or covariate names) and optionally ``participant``.
    rng : Generator, SeedSequence or int
        Randomness of ties and of the biased coin.
    p : float or None
        Override ``design.randomization.minimization_p``.

    Returns
    -------
    AllocationList
        The participants table with ``stratum="all"``, ``seq`` and ``allocation``
        plus the imbalance score of the chosen arm (``imbalance``).
    """
    g = as_generator(rng)
    names, ratios = _units(design)
    factors = design.strata_factors()
    prob = design.randomization.minimization_p if p is None else float(p)
    problems = []
    if not 0.5 < prob <= 1.0:
        problems.append(Problem("minimization_p", prob, "> 0.5 and <= 1", "", "out of range"))
    for f, levels in factors.items():
        if f not in participants.columns:
            problems.append(Problem(f"participants.{f}", None, "a column", "", "missing column"))
            continue
        bad = sorted(set(participants[f].astype(str)) - set(levels))
        if bad:
            problems.append(
                Problem(f"participants.{f}", bad[:5], f"one of {levels}", "", "unknown level")
            )
    if problems:
        raise InputError(problems)
    weights = np.array(
        [design.randomization.minimization_weights.get(f, 1.0) for f in factors], dtype=float
    )
    level_idx = [
        pd.Categorical(participants[f].astype(str), categories=lv).codes
        for f, lv in factors.items()
    ]
    k = len(names)
    counts = [np.zeros((len(lv), k)) for lv in factors.values()]
    chosen = np.empty(len(participants), dtype=int)
    score = np.empty(len(participants))
    for i in range(len(participants)):
        g_k = np.zeros(k)
        for w, c, li in zip(weights, counts, level_idx, strict=True):
            row = c[li[i]]
            trial = (row[None, :] + np.eye(k)) / ratios[None, :]
            g_k += w * (trial.max(axis=1) - trial.min(axis=1))
        best = np.flatnonzero(np.isclose(g_k, g_k.min()))
        if i == 0 or len(best) == k:
            arm = int(g.choice(best))
        elif g.random() < prob:
            arm = int(g.choice(best))
        else:
            others = np.setdiff1d(np.arange(k), best)
            arm = int(g.choice(others))
        for c, li in zip(counts, level_idx, strict=True):
            c[li[i], arm] += 1
        chosen[i] = arm
        score[i] = g_k[arm]
    table = participants.reset_index(drop=True).copy()
    table.insert(0, "seq", np.arange(1, len(table) + 1))
    table.insert(0, "stratum", "all")
    table["allocation"] = np.array(names)[chosen]
    table["imbalance"] = score
    return AllocationList(
        table, "minimization", _seed_text(rng), design.name, {"p": prob, "factors": list(factors)}
    )


def randomize(
    design: TrialDesign,
    rng: RNGLike,
    *,
    participants: pd.DataFrame | None = None,
    n: int | None = None,
    per_stratum: int | None = None,
) -> AllocationList:
    """Randomize according to ``design.randomization.method``.

    Parameters
    ----------
    design : TrialDesign
        The design.
    rng : Generator, SeedSequence or int
        Randomness (record the seed; same seed, same list).
    participants : pandas.DataFrame or None
        Required for minimization (covariates in arrival order).
    n : int or None
        Number of allocations for simple randomization (default: planned total).
    per_stratum : int or None
        Slots per stratum for permuted blocks.

    Returns
    -------
    AllocationList
        The list.
    """
    method = design.randomization.method
    if method == "permuted_blocks":
        return permuted_blocks(design, rng, per_stratum=per_stratum)
    if method == "minimization":
        if participants is None:
            raise InputError(
                Problem(
                    "participants",
                    None,
                    "a CSV of participants in arrival order",
                    "",
                    "minimization allocates known participants; give --participants",
                )
            )
        return minimize(design, participants, rng)
    _, ratios = _units(design)
    return simple_randomization(design, n or design.n_per_arm * int(ratios.sum()), rng)

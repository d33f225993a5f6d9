"""Randomization: balance, allocation ratio, reproducibility, concealment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import (
    load_design,
    minimize,
    permuted_blocks,
    randomize,
    simple_randomization,
    verify_allocation_list,
)
from phantomlab.trials.design import example_design


def _design(**kw):
    base = {
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "centers": [{"name": "c1"}, {"name": "c2"}, {"name": "c3"}],
        "covariates": [{"name": "sex", "levels": ["f", "m"]}],
        "randomization": {"block_sizes": [2, 4, 6], "stratify_by": ["center", "sex"]},
        "n_per_arm": 60,
    }
    base.update(kw)
    return load_design(base)


def test_same_seed_same_list_and_different_seed_differs():
    d = _design()
    a, b, c = permuted_blocks(d, 11), permuted_blocks(d, 11), permuted_blocks(d, 12)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()


def test_blocks_are_balanced_and_sizes_allowed():
    d = _design()
    t = permuted_blocks(d, 3).table
    assert set(t["stratum"]) == {f"{c}|{s}" for c in ("c1", "c2", "c3") for s in ("f", "m")}
    for (_, _), blk in t.groupby(["stratum", "block"]):
        size = blk["block_size"].iloc[0]
        assert len(blk) == size
        assert size in (2, 4, 6)
        counts = blk["allocation"].value_counts()
        assert counts["sham"] == counts["active"] == size // 2
    used = set(t.drop_duplicates(["stratum", "block"])["block_size"])
    assert used == {2, 4, 6}  # random block sizes: all allowed sizes occur


def test_any_prefix_of_a_stratum_is_nearly_balanced():
    t = permuted_blocks(_design(), 5).table
    for _, s in t.groupby("stratum"):
        diff = np.cumsum(np.where(s["allocation"] == "active", 1, -1))
        assert np.abs(diff).max() <= 3  # half the largest block


def test_unequal_ratio_and_per_stratum():
    d = _design(
        arms=[{"name": "sham", "sham": True}, {"name": "active", "ratio": 2}],
        randomization={"block_sizes": [3, 6], "stratify_by": ["center"]},
    )
    al = permuted_blocks(d, 9, per_stratum=30)
    t = al.table
    for _, s in t.groupby("stratum"):
        assert 30 <= len(s) < 36
        c = s["allocation"].value_counts()
        assert c["active"] == 2 * c["sham"]  # whole blocks only
    with pytest.raises(InputError):
        permuted_blocks(d, 1, block_sizes=[4])


def test_default_stratum_size_follows_redcap_advice():
    d = _design(randomization={"block_sizes": [2], "stratify_by": ["center"]})
    t = permuted_blocks(d, 1).table
    expected = int(np.ceil(1.15 * 120 / 3))
    for _, s in t.groupby("stratum"):
        assert expected <= len(s) <= expected + 1


def test_crossover_allocates_sequences():
    d = example_design("crossover")
    t = randomize(d, 4).table
    assert set(t["allocation"]) == {"tdcs-sham", "sham-tdcs"}


def test_simple_randomization_ratio_is_right_in_large_samples():
    d = _design(
        arms=[{"name": "sham", "sham": True}, {"name": "active", "ratio": 3}],
        randomization={"block_sizes": [4]},
    )
    t = simple_randomization(d, 40_000, 1).table
    frac = (t["allocation"] == "active").mean()
    assert abs(frac - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 40_000)


def test_sealed_list_detects_tampering(tmp_path):
    al = permuted_blocks(_design(), 21)
    path = tmp_path / "list.csv"
    digest = al.to_csv(path)
    assert (tmp_path / "list.csv.sha256").read_text().split()[0] == digest
    assert verify_allocation_list(path)
    text = path.read_text().replace("active", "sham", 1)
    path.write_text(text)
    assert not verify_allocation_list(path)
    assert not verify_allocation_list(path, digest)


def test_sealed_envelopes_hide_and_restore_allocation():
    al = permuted_blocks(_design(), 2)
    sheet, key = al.sealed_envelopes(99)
    assert "allocation" not in sheet.columns and "block_size" not in sheet.columns
    assert sheet["envelope"].is_unique
    merged = sheet.merge(key, on="envelope")
    assert (merged["allocation"].to_numpy() == al.table["allocation"].to_numpy()).all()


def _hand_imbalance(prev_levels, prev_arms, levels, arm, arms, weights):
    """Pocock-Simon range imbalance if the new participant joins ``arm`` (plain loops)."""
    total = 0.0
    for f, w in weights.items():
        counts = {a: 0 for a in arms}
        for lv, a in zip(prev_levels, prev_arms, strict=True):
            if lv[f] == levels[f]:
                counts[a] += 1
        counts[arm] += 1
        total += w * (max(counts.values()) - min(counts.values()))
    return total


def test_minimization_matches_hand_computed_imbalance():
    d = _design(
        randomization={
            "method": "minimization",
            "stratify_by": ["center", "sex"],
            "minimization_weights": {"center": 1.0, "sex": 2.0},
        }
    )
    rng = np.random.default_rng(0)
    people = pd.DataFrame(
        {"center": rng.choice(["c1", "c2", "c3"], 40), "sex": rng.choice(["f", "m"], 40)}
    )
    t = minimize(d, people, 5, p=1.0).table
    weights = {"center": 1.0, "sex": 2.0}
    arms = ["sham", "active"]
    prev_l, prev_a = [], []
    for _, row in t.iterrows():
        lv = {"center": row["center"], "sex": row["sex"]}
        g = {a: _hand_imbalance(prev_l, prev_a, lv, a, arms, weights) for a in arms}
        assert row["imbalance"] == pytest.approx(g[row["allocation"]])
        if prev_a:  # p = 1: always the arm with the smallest imbalance
            assert g[row["allocation"]] == min(g.values())
        prev_l.append(lv)
        prev_a.append(row["allocation"])


def test_minimization_balances_margins_better_than_simple():
    d = _design(randomization={"method": "minimization", "stratify_by": ["center", "sex"]})
    worst_min, worst_simple = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        people = pd.DataFrame(
            {"center": rng.choice(["c1", "c2", "c3"], 120), "sex": rng.choice(["f", "m"], 120)}
        )
        m = minimize(d, people, seed).table
        s = people.assign(allocation=simple_randomization(d, 120, seed).table["allocation"])
        for tab, out in ((m, worst_min), (s, worst_simple)):
            imb = max(
                abs(pd.crosstab(tab[f], tab["allocation"]).diff(axis=1).iloc[:, -1]).max()
                for f in ("center", "sex")
            )
            out.append(imb)
    assert max(worst_min) <= 4
    assert np.mean(worst_min) < np.mean(worst_simple) / 2


def test_minimization_reproducible_and_checks_input():
    d = _design(randomization={"method": "minimization", "stratify_by": ["center", "sex"]})
    people = pd.DataFrame({"center": ["c1", "c2", "c1"], "sex": ["f", "m", "m"]})
    a, b = randomize(d, 8, participants=people), randomize(d, 8, participants=people)
    assert a.digest() == b.digest()
    with pytest.raises(InputError) as ei:
        minimize(d, people.drop(columns="sex"), 1)
    assert ei.value.problems[0].field == "participants.sex"
    with pytest.raises(InputError):
        minimize(d, people.assign(center="zz"), 1)
    with pytest.raises(InputError):
        randomize(d, 1)  # minimization needs participants

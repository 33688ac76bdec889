"""Balancing probabilities, the keep law, t <-> tail proportion, and sampling statistics."""

import math

import numpy as np
import pyarrow as pa
import pytest

from curation.chain.balancing import (
    entry_probabilities,
    keep_mask,
    keep_probabilities,
    keep_probability,
    t_for_tail_proportion,
    tail_proportion,
)


def test_entry_probabilities():
    p = entry_probabilities(np.array([0, 5, 10, 40]), 10)
    assert p.tolist() == [1.0, 1.0, 1.0, 0.25]
    with pytest.raises(ValueError):
        entry_probabilities(np.array([1]), 0)


def test_keep_probability_is_one_minus_product():
    p = np.array([0.5, 0.2, 1.0, 0.1])
    assert keep_probability([], p) == 0.0
    assert keep_probability([0], p) == 0.5
    assert math.isclose(keep_probability([0, 1], p), 1 - 0.5 * 0.8)
    assert keep_probability([0, 2], p) == 1.0
    lists = [[], [0], [0, 1], [1, 3], [0, 1, 3], [2]]
    vector = keep_probabilities(pa.array(lists, pa.list_(pa.int32())), p)
    assert vector.tolist() == [keep_probability(ids, p) for ids in lists]


def test_keep_probabilities_on_a_sliced_list_array():
    p = np.array([0.5, 0.25])
    arr = pa.array([[0], [1], [0, 1], []], pa.list_(pa.int32())).slice(1, 3)
    assert keep_probabilities(arr, p).tolist() == [0.25, 1 - 0.5 * 0.75, 0.0]


def reference_p_to_t(counts, p):
    """Meta CLIP 2's p_to_t as DESIGN.md states it, written out step by step."""
    ordered = sorted(int(c) for c in counts)
    total = sum(ordered)
    running, best, best_gap = 0, None, None
    for c in ordered:
        running += c
        gap = abs(running / total - p)
        if best_gap is None or gap < best_gap:  # the first position that minimises the gap
            best, best_gap = c, gap
    return best


def test_tail_proportion_and_p_to_t():
    counts = np.array([1, 1, 5, 10, 100, 0])
    assert tail_proportion(counts, 6) == 7 / 117
    assert tail_proportion(np.array([]), 5) == 0.0
    # Shares of the sorted counts 0 1 1 5 10 100: 0, 1/117, 2/117, 7/117, 17/117, 1.
    assert t_for_tail_proportion(counts, 7 / 117) == 5  # the smallest t reaching it would be 6
    assert t_for_tail_proportion(counts, 0.12) == 10  # 17/117 = 0.145 is nearer than 7/117 = 0.060
    assert t_for_tail_proportion(counts, 0.10) == 5
    assert t_for_tail_proportion(np.array([4, 4, 4, 4]), 0.5) == 4  # ties: the first nearest position


@pytest.mark.parametrize("seed", range(30))
def test_p_to_t_equals_the_reference_on_random_counts(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    counts = np.where(rng.random(n) < 0.3, 0, rng.zipf(1.3, n).clip(max=10**6))
    if counts.sum() == 0:
        counts[0] = 1
    for p in [0.0, 1.0, *rng.random(8)]:
        assert t_for_tail_proportion(counts, p) == max(1, reference_p_to_t(counts, p))


def test_t_for_tail_proportion_degenerate_inputs():
    assert t_for_tail_proportion(np.array([]), 0.5) == 1
    assert t_for_tail_proportion(np.zeros(5), 0.5) == 1
    assert t_for_tail_proportion(np.array([3, 7]), 0.0) == 3  # the reference: share 0.3 is nearest 0
    assert t_for_tail_proportion(np.array([0, 0, 3, 7]), 0.0) == 1  # t = 0 guarded to 1
    assert t_for_tail_proportion(np.array([3, 7]), 1.0) == 7
    assert t_for_tail_proportion(np.array([3, 7]), 1.0000001) == 7


def test_head_entries_keep_about_t_and_tail_entries_are_whole():
    # Each text matches exactly one entry, so kept(i) ~ Binomial(count_i, t / count_i).
    rng = np.random.default_rng(0)
    t = 200
    counts = np.array([5000, 2000, 800, 200, 150, 20, 1])
    ids = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(ids)
    entry_ids = pa.array([[int(i)] for i in ids], pa.list_(pa.int32()))
    keys = pa.array([f"row-{n}" for n in range(len(ids))])
    kept = keep_mask(keys, entry_ids, entry_probabilities(counts, t), seed=3)
    kept_per_entry = np.bincount(ids[kept], minlength=len(counts))
    for c, k in zip(counts, kept_per_entry):
        if c <= t:
            assert k == c
        else:
            sd = math.sqrt(t * (1 - t / c))
            assert abs(k - t) <= 5 * sd, (c, k)

"""The code-point double array: every edge of a trie found, no other, at any first
allocation (so growth and the search list's pruning are exercised), and damaged arrays
refused before the kernel sees them."""

import random

import numpy as np
import pytest

from curation.matching import AhoCorasickMatcher, Matcher, fastmatch
from curation.matching import fastmatch_trie as trie


def random_trie(rng: random.Random, n_words: int, alphabet: list[int]):
    """``(parent, labels, info)`` of the trie of ``n_words`` random words, and its edges."""
    nodes: dict[tuple[int, int], int] = {}
    for _ in range(n_words):
        node = -1
        for _ in range(rng.randint(1, 8)):
            # Skewed choice: a few labels are frequent, as in real text.
            label = alphabet[min(int(rng.expovariate(0.02)), len(alphabet) - 1)]
            node = nodes.setdefault((node, label), len(nodes))
    parent = np.array([p for p, _ in nodes], dtype=np.int64)
    labels = np.array([c for _, c in nodes], dtype=np.int64)
    info = np.arange(1, len(nodes) + 1, dtype=np.uint64) | (np.uint64(1) << np.uint64(32))  # one entry each
    return parent, labels, info, nodes


def child(units, s, code):
    base = int(units[s, 0] >> np.uint64(32))
    if base == 0:
        return -1
    t = base + code
    return t if int(units[t, 0] & trie.FREE) == s else -1


@pytest.mark.parametrize("capacity", [0, 2, 64])
def test_every_edge_is_found_and_no_other(capacity):
    rng = random.Random(capacity)
    # CJK, Thai, Hangul and an astral block (beyond the BMP: a second page level).
    alphabet = list(range(0x4E00, 0x4E00 + 300)) + list(range(0x0E01, 0x0E3A)) + list(range(0xAC00, 0xAC40)) + \
        list(range(0x20000, 0x20040))
    rng.shuffle(alphabet)
    parent, labels, info, nodes = random_trie(rng, 3000, alphabet)
    pages, blocks, n_codes = trie.code_map(labels)
    codes = trie.codes_of(labels, pages, blocks)
    units = trie.build_units(parent, codes, info, n_codes, capacity)
    trie.check_units(units, n_codes, "test")
    unit_of = {-1: 0}
    for (p, _label), node in nodes.items():  # creation order: a parent before its children
        t = child(units, unit_of[p], int(codes[node]))
        assert t > 0 and units[t, 1] == info[node]
        unit_of[node] = t
    assert len(set(unit_of.values())) == len(unit_of)
    children = {}
    for (p, _label), node in nodes.items():
        children.setdefault(p, set()).add(int(codes[node]))
    for p, s in unit_of.items():
        for code in range(1, n_codes + 1):
            if code not in children.get(p, ()):
                assert child(units, s, code) == -1


def test_codes_follow_frequency_and_unknown_code_points_get_zero():
    labels = np.array([0x0E01] * 5 + [0x4E00] * 3 + [0x20000] * 4, dtype=np.int64)
    pages, blocks, n_codes = trie.code_map(labels)
    got = trie.codes_of(np.array([0x0E01, 0x20000, 0x4E00, 0x4E01, 0x41, 0x10FFFF]), pages, blocks)
    assert n_codes == 3 and got.tolist() == [1, 2, 3, 0, 0, 0]


def test_a_large_list_with_a_small_first_allocation_matches_the_oracle():
    rng = random.Random(7)
    thai = [chr(c) for c in range(0x0E01, 0x0E3A)]
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    entries = list({"".join(rng.choices(thai if rng.random() < 0.5 else han, k=rng.randint(1, 6)))
                    for _ in range(6000)})
    entries += ["dog", "hot dog", "(band)", "“引用”"]
    texts = ["".join(rng.choices(thai + han + [" ", "，", "dog", "("], k=rng.randint(0, 40))) for _ in range(3000)]
    for variant in ("metaclip-v1", "metaclip-v2"):
        assert Matcher(entries, variant).match_batch(texts) == AhoCorasickMatcher(entries, variant).match_batch(texts)


def test_a_base_that_would_step_outside_the_array_is_refused():
    m = Matcher(["猫", "東京", "東京タワー", "(band)", "สุนัข"], "metaclip-v2")
    arrays = {k: np.array(v) for k, v in m._arrays.items()}
    fastmatch.check_arrays(arrays, 5)
    units = arrays["cp_units"]
    bad = units.copy()
    bad[0, 0] = (np.uint64(len(units)) << np.uint64(32)) | (units[0, 0] & trie.FREE)
    with pytest.raises(ValueError, match="leaves the array"):
        fastmatch.check_arrays({**arrays, "cp_units": bad}, 5)
    bad = units.copy()
    bad[1, 0] = np.uint64(len(units) + 3)  # a check naming no unit
    with pytest.raises(ValueError, match="leaves the array"):
        fastmatch.check_arrays({**arrays, "cp_units": bad}, 5)
    roots = arrays["cp_roots"].copy()
    roots[1] = len(units)
    with pytest.raises(ValueError, match="roots"):
        fastmatch.check_arrays({**arrays, "cp_roots": roots}, 5)
    blocks = arrays["cp_blocks"].copy()
    blocks[0] = -1
    with pytest.raises(ValueError, match="code map"):
        fastmatch.check_arrays({**arrays, "cp_blocks": blocks}, 5)

"""Matching equals the plain DESIGN.md rule: padded entry is a substring of spacing(text)."""

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.matching import Matcher
from curation.matching.text import is_cjk_or_similar, spacing
from curation.matching.variants import get_variant


def reference_match(entries, text, variant):
    """The rule as DESIGN.md states it, written plainly (no automaton)."""
    if not text:
        return []
    spaced = spacing(text)
    pad = get_variant(variant).pad
    return [i for i, e in enumerate(entries) if pad(e) in spaced]


def test_spacing_is_the_reference_rule():
    assert spacing("a,b.c;d:e?f!g`h") == " a , b . c ; d : e ? f ! g ` h "
    assert spacing("tab\there\nnew\rline") == " tab here new line "
    assert spacing("Keep  CASE and ünïcode") == " Keep  CASE and ünïcode "
    assert spacing("") == "  "
    assert spacing("'quotes' (parens) -dash-") == " 'quotes' (parens) -dash- "


@pytest.mark.parametrize("variant", ["metaclip-v1", "metaclip-v2"])
def test_hand_written_cases(variant):
    entries = ["hot", "hot dog", "dog", "Dog", "stand", "U.S.", "a", "dog stand", "new york", "York"]
    m = Matcher(entries, variant)
    assert m.match("a hot dog stand") == [0, 1, 2, 4, 6, 7]
    assert m.match("Hot dogs") == []                        # case-sensitive, whole tokens
    assert m.match("dog.") == [2]                          # punctuation is split off
    assert m.match("Dog,dog;stand") == [2, 3, 4]           # ", ;" wrapped: "Dog , dog ; stand"
    assert m.match("the U.S. flag") == []                  # inner "." can never match
    assert m.match("new\tyork\nYork") == [8, 9]            # tab/newline become spaces
    assert m.match("new  york") == []                      # no whitespace collapsing
    assert m.match(None) == [] and m.match("") == []


def test_cjk_padding_differs_between_variants():
    entries = ["猫", "東京", "cat", "C++", "サッカー"]
    v2, v1 = Matcher(entries, "metaclip-v2"), Matcher(entries, "metaclip-v1")
    assert v2.match("一只猫在东京") == [0]
    assert v1.match("一只猫在东京") == []
    assert v1.match("一只 猫 在") == [0]
    assert v2.match("東京タワー") == [1]
    assert v2.match("concatenate") == []                   # Latin entries keep their spaces
    assert v2.match("I like C++code") == [3]               # trailing "+" is punctuation: no trailing pad
    assert v1.match("I like C++code") == []
    # Kana is not "CJK or similar": the reference pads a kana-initial entry.
    assert v2.match("今日はサッカーの日") == []
    assert v2.match("今日は サッカー の日") == [4]


def test_duplicate_entries_keep_all_ids():
    assert Matcher(["dog", "cat", "dog"]).match("dog and cat") == [0, 1, 2]


def test_unknown_variant_names_valid_ones():
    with pytest.raises(ValueError, match="metaclip-v1, metaclip-v2"):
        Matcher(["x"], "metaclip-v9")


def test_match_batch_and_arrow_agree():
    m = Matcher(["red", "car", "red car"])
    texts = ["red car", None, "", "blue car", "Red"]
    assert m.match_batch(texts) == [[0, 1, 2], [], [], [1], []]
    assert m.match_arrow(pa.array(texts)).to_pylist() == m.match_batch(texts)


def test_is_cjk_or_similar():
    assert is_cjk_or_similar("猫") and is_cjk_or_similar("ก") and is_cjk_or_similar(",") and is_cjk_or_similar("》")
    assert not is_cjk_or_similar("a") and not is_cjk_or_similar("サ") and not is_cjk_or_similar("한")


ALPHABET = st.sampled_from(list("ab  ,.;:?!`\t\n\r'-猫東京กAB"))
TEXTS = st.one_of(st.none(), st.text(ALPHABET, max_size=30))
ENTRIES = st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=25)


@pytest.mark.parametrize("variant", ["metaclip-v1", "metaclip-v2"])
@settings(max_examples=300, deadline=None)
@given(entries=ENTRIES, texts=st.lists(TEXTS, max_size=10))
def test_random_texts_match_reference(variant, entries, texts):
    m = Matcher(entries, variant)
    assert m.match_batch(texts) == [reference_match(entries, t, variant) for t in texts]


SCRIPTS = {
    "zh": "的是在了我和有不人这中大为上个国猫東京",
    "ja": "日本語のはにをがでたてサッカー東京タワー",
    "ko": "이는을하에다의고한국어",
    "th": "การที่เป็นของและมีในไม่ได้ให้ั่้็",
    "lo": "ການທີ່ເປັນຂອງແລະມີໃນ",
    "km": "ការដែលនិងមានក្នុង",
    "my": "မြန်မာစကားသည်နှင့်",
    "bo": "བོད་ཀྱི་སྐད་ཡིག",
}
MARKS = " ,.;:?!`'-()，。、；：？！“”‘’（）【】《》〈〉「」『』～—\t"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_unpadded_entries_of_every_script_match_the_rule_and_the_oracle(script, data):
    from curation.matching import AhoCorasickMatcher

    alphabet = st.sampled_from(list(SCRIPTS[script] + MARKS + "ab"))
    entries = data.draw(st.lists(st.text(alphabet, min_size=1, max_size=6), min_size=1, max_size=30))
    texts = data.draw(st.lists(st.text(alphabet, max_size=40), max_size=8))
    got = Matcher(entries, "metaclip-v2").match_batch(texts)
    assert got == [reference_match(entries, t, "metaclip-v2") for t in texts]
    assert got == AhoCorasickMatcher(entries, "metaclip-v2").match_batch(texts)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mixed_lists_match_the_oracle(data):
    """Latin entries (padded) beside CJK, Thai and punctuation-edged ones (unpadded), over
    texts that mix them."""
    from curation.matching import AhoCorasickMatcher

    words = ["dog", "hot dog", "U.S.", "C++", "(band)", "e-mail", "猫", "東京", "東京タワー", "สุนัข", "iPhone手机",
             "手机壳", "《三体》", "“引用”", "サッカー", "한국어", "ทดสอบ", "a", ""]
    alphabet = st.sampled_from(list("dog hotUS.C+()bandemil猫東京タワーสุนัขiPhone手机壳"
                                    "《三体》“引用”サッカー한국어ทดสอบ,;!　"))
    entries = data.draw(st.lists(st.one_of(st.sampled_from(words), st.text(alphabet, min_size=1, max_size=5)),
                                 min_size=1, max_size=40))
    texts = data.draw(st.lists(st.one_of(st.text(alphabet, max_size=40),
                                         st.lists(st.sampled_from(words), max_size=6).map(" ".join),
                                         st.lists(st.sampled_from(words), max_size=6).map("".join)), max_size=8))
    for variant in ("metaclip-v1", "metaclip-v2"):
        got = Matcher(entries, variant).match_batch(texts)
        assert got == AhoCorasickMatcher(entries, variant).match_batch(texts)
        assert got == [reference_match(entries, t, variant) for t in texts]


def test_saved_index_is_mapped_and_gives_the_same_results(tmp_path):
    import numpy as np

    entries = ["hot dog", "dog", "猫", "C++", "U.S.", "", "a  b", "dog"]
    texts = ["a hot dog", "一只猫", "C++ rocks", "a  b", "x", None, "", "dog,dog"]
    built = Matcher(entries)
    built.save(str(tmp_path / "m.idx"))
    loaded = Matcher.load(str(tmp_path / "m.idx"))
    assert isinstance(loaded._arrays["tok_table"], np.memmap)
    assert loaded.entries == entries
    assert loaded.match_batch(texts) == built.match_batch(texts) == [reference_match(entries, t, "metaclip-v2")
                                                                      for t in texts]


def test_fast_and_aho_corasick_engines_agree_on_real_words():
    import random

    from curation.matching import AhoCorasickMatcher

    rng = random.Random(1)
    words = ["dog", "hot", "cat", "New", "York", "U.S.", "C++", "it's", "(band)", "猫", "東京", "e-mail", "", "A"]
    entries = list({" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(300)})
    texts = [rng.choice(["", "  "]).join(rng.choices(words + [",", ".", "!", "\t"], k=rng.randint(0, 12)))
             for _ in range(2000)]
    for variant in ("metaclip-v1", "metaclip-v2"):
        assert Matcher(entries, variant).match_batch(texts) == AhoCorasickMatcher(entries, variant).match_batch(texts)


def test_matcher_refuses_to_be_pickled():
    import pickle

    with pytest.raises(TypeError, match="Matcher.load"):
        pickle.dumps(Matcher(["x"]))


def test_tokens_around_the_eight_byte_words_and_stale_buffer_bytes():
    """The kernel splits and hashes tokens eight bytes at a time: tokens of every length
    around 8 and 16 bytes, multi-byte characters beside spaces, and short texts after a
    long one (whose bytes stay in the buffer past the short text's end) match the rule."""
    import random

    rng = random.Random(3)
    alphabet = "abcdefghé猫 ,"
    words = ["".join(rng.choices("abcdefghé猫", k=n)) for n in range(1, 19) for _ in range(3)]
    entries = words + [f"{a} {b}" for a, b in zip(words, words[1:])] + ["abcdefgh", "abcdefghi", "a" * 16, "a" * 17]
    long_text = " ".join(words) + " " + "a" * 17 + " " + "abcdefgh,abcdefghi"
    texts = [long_text] + ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(300)] + \
        [" ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(300)] + ["a" * 16, " " + "a" * 17 + " ", "a"]
    for variant in ("metaclip-v1", "metaclip-v2"):
        got = Matcher(entries, variant).match_batch(texts)
        assert got == [reference_match(entries, t, variant) for t in texts]
        assert got[0] and got[-3] == [entries.index("a" * 16)]


def test_sort_unique_at_every_length_with_repeats():
    """The kernel's small-list rank sort (repeats share a slot) and its long-list sort."""
    import random

    import numpy as np

    from curation.matching.fastmatch_kernel import RANK_SORT_MAX, sort_unique

    rng = random.Random(5)
    for n in list(range(0, RANK_SORT_MAX + 3)) + [200, 1000]:
        values = [rng.randrange(0, max(1, n // 2) if n % 2 else 1 << 30) for _ in range(n)]
        buf = np.full(max(256, 2 * n), 7, dtype=np.int32)
        buf[:n] = values
        m = sort_unique(buf, n)
        assert buf[:m].tolist() == sorted(set(values))

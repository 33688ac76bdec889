"""Unigram/bigram statistics and PMI, on the same tokens that matching sees.

A text is tokenised as ``spacing(text)`` split on single spaces, empty tokens dropped, so
an n-gram built from these tokens is an entry that can match the text it came from.
N-grams with a punctuation-only token are not counted. For languages written without
spaces the input must be word-segmented (tokens separated by spaces); bigrams are always
written ``a b`` and the builder joins them without a space for those languages.
"""

import math
from collections import Counter
from collections.abc import Iterable

from curation.matching.text import PUNCTUATION_LIKE, spacing

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz"})


def tokens(text: str) -> list[str]:
    return [t for t in spacing(text).split(" ") if t]


def is_punctuation_only(s: str) -> bool:
    return all(c in PUNCTUATION_LIKE or c.isspace() for c in s)


def count_ngrams(texts: Iterable[str]) -> tuple[Counter, Counter]:
    """``(unigrams, bigrams)`` counts over ``texts``; a bigram is ``"a b"``."""
    uni: Counter = Counter()
    bi: Counter = Counter()
    for text in texts:
        toks = [t if not is_punctuation_only(t) else None for t in tokens(text or "")]
        uni.update(t for t in toks if t)
        bi.update(f"{a} {b}" for a, b in zip(toks, toks[1:]) if a and b)
    return uni, bi


def pmi(bigram_count: int, count_a: int, count_b: int, total_unigrams: int, total_bigrams: int) -> float:
    """Pointwise mutual information in bits: ``log2(p(ab) / (p(a) p(b)))``."""
    if min(bigram_count, count_a, count_b, total_unigrams, total_bigrams) <= 0:
        return float("-inf")
    p_ab = bigram_count / total_bigrams
    return math.log2(p_ab / ((count_a / total_unigrams) * (count_b / total_unigrams)))


CORPUS_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz", ".parquet")


def iter_corpus_texts(url: str, text_column: str = "text"):
    """Texts of one corpus file: a line of ``.txt``, a field of ``.jsonl``, a column of Parquet."""
    import json

    from curation.core.io import get_fs, read_parquet

    if url.endswith(".parquet"):
        yield from (t for t in read_parquet(url)[text_column].to_pylist() if t)
        return
    fs, path = get_fs(url)
    with fs.open(path, "rt", encoding="utf-8", errors="replace", compression="infer") as f:
        for line in f:
            if url.endswith((".jsonl", ".jsonl.gz")):
                text = json.loads(line).get(text_column) if line.strip() else None
            else:
                text = line.rstrip("\n")
            if text:
                yield text


def write_counts_tsv(url: str, items) -> None:
    """Write ``(key, count)`` pairs as ``key<TAB>count`` lines, sorted by key."""
    from curation.core.io import write_bytes_atomic

    body = "".join(f"{k}\t{v}\n" for k, v in sorted(items))
    write_bytes_atomic(url, body.encode("utf-8"))

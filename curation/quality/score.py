"""The quality score of an alt-text: the product, over the filters it fails, of one minus the
filter's weight, ``prod(1 - w[f] for f failed)``, in [0, 1]. A text that fails nothing scores
1; an empty (or blank) alt-text scores 0.

A weight is the probability that a text failing that filter is junk (``curation.quality.fit``),
so the score is the chance that no detector is right about the text, each detector taken as
independent evidence (a noisy-OR). Why a product, where the paper (arXiv 2405.01582) takes the
weighted share of the filters passed: with a share, a text that fails one confident detector
still scores ``1 - w/sum(w)``, high whenever the other filters pass, so "click here" (which
passes length, letters, case, ...) outscored a noun phrase that failed one noisy filter. With
a product one confident detector cannot be outvoted, and filters that do not fire cost nothing.

Weights are per language; a language without its own file uses the ``en`` weights with its
own phrase lists.

    QualityScorer().score("Image 6")        -> 0.0004...  (placeholder)
    QualityScorer().score("golden retriever puppy on a blue blanket") -> 1.0
"""

import json
from pathlib import Path

import numpy as np

from curation.core.errors import InputError
from curation.quality.filters import FILTERS, evaluate, normalise_lang

SHIPPED = Path(__file__).resolve().parent / "weights"
FALLBACK = "en"
HISTOGRAM_BINS = 20
# The documented threshold of --min-quality: a text goes when one filter whose weight is over
# one half (a detector more often right than wrong) fails it.
DEFAULT_THRESHOLD = 0.5


def read_weights_file(url: str) -> dict:
    """``{"lang": L, "filters": {name: {"weight": w, ...}}, ...}`` as written by ``fit``."""
    from curation.core.io import read_bytes

    try:
        body = json.loads(read_bytes(url))
        filters, lang = body["filters"], str(body["lang"])
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{url}: not a quality weights file from `curate quality fit` ({exc!r})") from None
    missing = [name for name in FILTERS if not isinstance(filters, dict) or name not in filters]
    if missing:
        raise InputError(f"{url}: a quality weights file for other filters (no {', '.join(missing)}); "
                         f"refit it with `curate quality fit`")
    try:
        weights = {name: float(filters[name]["weight"]) for name in FILTERS}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{url}: not a quality weights file from `curate quality fit` ({exc!r})") from None
    bad = [name for name, w in weights.items() if not 0.0 <= w <= 1.0]
    if bad:
        raise InputError(f"{url}: weights must lie in [0, 1] ({', '.join(f'{n}={weights[n]}' for n in bad)})")
    return {"lang": lang, "weights": weights}


def load_weights(source: str | None = None) -> dict:
    """Language -> filter weights: the shipped ones, or a file or folder of ``<lang>.json``."""
    from curation.core.io import is_dir, list_files

    source = source or str(SHIPPED)
    urls = [u for u in list_files(source, (".json",)) if not u.endswith("manifest.json")] if is_dir(source) \
        else [source]
    found = {}
    for url in urls:
        body = read_weights_file(url)
        found[body["lang"]] = body["weights"]
    if not found:
        raise InputError(f"{source}: no quality weights (<lang>.json from `curate quality fit`)")
    return found


def weights_digest(weights: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()


class QualityScorer:
    """Scores alt-texts with per-language weights (``load_weights``)."""

    def __init__(self, weights: dict | None = None):
        self.weights = weights if weights is not None else load_weights()
        # What a failed filter multiplies the score by.
        self._vectors = {lang: [1.0 - w[f] for f in FILTERS] for lang, w in self.weights.items()}
        self._fallback = self._vectors.get(FALLBACK, next(iter(self._vectors.values())))

    def score(self, text: str, lang=None) -> float:
        if not text or not text.strip():
            return 0.0  # nothing describes the image: no filter has anything to pass
        code = normalise_lang(lang) or FALLBACK
        w = self._vectors.get(code, self._fallback)
        score = 1.0
        for keep, verdict in zip(w, evaluate(text, code)):
            if verdict is False:
                score *= keep
        return score

    def score_many(self, texts, langs=None) -> np.ndarray:
        langs = langs if langs is not None else [None] * len(texts)
        return np.array([self.score(t, lang) for t, lang in zip(texts, langs)], np.float64)


def histogram(scores: np.ndarray) -> list[int]:
    """Counts of scores in ``HISTOGRAM_BINS`` equal bins of [0, 1] (1.0 in the last)."""
    bins = np.minimum((np.asarray(scores) * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1)
    return np.bincount(bins, minlength=HISTOGRAM_BINS).tolist()


def histograms_by_lang(scores: np.ndarray, langs) -> dict:
    """``{lang: histogram}`` with langs normalised (``""``: no lang)."""
    codes = np.array([normalise_lang(v) for v in langs] if langs is not None else [""] * len(scores), dtype=object)
    return {str(code): histogram(scores[codes == code]) for code in sorted(set(codes.tolist()))}


def add_histograms_by_lang(total: dict, more: dict) -> dict:
    for lang, counts in more.items():
        total[lang] = [a + b for a, b in zip(total.get(lang, [0] * len(counts)), counts)]
    return total


def roc_auc(good: np.ndarray, bad: np.ndarray) -> float:
    """P(a good text scores above a bad one), ties counted half (Mann-Whitney U over n*m)."""
    both = np.concatenate([good, bad])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both), np.float64)
    sorted_scores = both[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(average, counts)
    u = ranks[:len(good)].sum() - len(good) * (len(good) + 1) / 2
    return float(u / (len(good) * len(bad)))

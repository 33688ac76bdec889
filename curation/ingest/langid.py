"""Language identification with py3langid's bundled model (no download at run time), in
batches: the model's byte DFA walk, feature counts and naive-Bayes scores run in one
compiled loop over all texts of a shard instead of a Python loop and a NumPy call per text.

The rule is py3langid 0.4's ``LanguageIdentifier.classify`` with ``norm_probs=True``: text
lowercased when it is all upper case, NFC, UTF-8; feature counts ``c`` weigh ``log1p(c)``;
scores scaled by ``1/sqrt(bytes)``, softmaxed, aliased labels (e.g. ``srl`` -> ``sr``)
folded into their first column. Only the float32 summation order differs, so a
probability can differ in its last float32 digits (tests hold it to 1e-5 of py3langid).
"""

import unicodedata
from functools import lru_cache

import numba
import numpy as np


@lru_cache(maxsize=1)
def _model():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    alias = np.array(ident._alias_pairs, dtype=np.int64).reshape(-1, 2)
    return (list(ident.nb_classes), np.asarray(ident.tk_nextmove, dtype=np.uint32),
            np.asarray(ident.tk_row, dtype=np.int64) << 8, np.asarray(ident.tk_output, dtype=np.int32),
            np.ascontiguousarray(ident.nb_ptc, dtype=np.float32), np.asarray(ident.nb_pc, dtype=np.float32), alias)


def _encode(text: str) -> bytes:
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")


def identify_many(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """``(ISO 639-1 codes, probabilities rounded to 4 places)`` of ``texts``."""
    classes, nextmove, rowbase, output, ptc, pc, alias = _model()
    encoded = [_encode(t) for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    labels = np.empty(len(encoded), dtype=np.int64)
    confidence = np.empty(len(encoded), dtype=np.float32)
    features = np.empty(len(data), dtype=np.int32)
    _walk(data, offsets, nextmove, rowbase, output, features)
    _score(offsets, features, ptc, pc, alias, labels, confidence)
    return [classes[i] for i in labels], np.round(confidence.astype(np.float64), 4)


def identify(text: str) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` of ``text``."""
    langs, probs = identify_many([text])
    return langs[0], float(probs[0])


LANES = 8  # texts walked at once: their table lookups miss the cache in parallel


@numba.njit(cache=True, nogil=True)
def _walk(data, offsets, nextmove, rowbase, output, features):
    """``features[p]``: the model feature the DFA emits at byte ``p`` (-1 for none). The
    table is tens of MB, so each step is a cache miss; ``LANES`` independent walks over
    consecutive runs of texts interleave to overlap them."""
    n = len(offsets) - 1
    text = np.empty(LANES, dtype=np.int64)
    last = np.empty(LANES, dtype=np.int64)
    pos = np.empty(LANES, dtype=np.int64)
    state = np.zeros(LANES, dtype=np.int64)
    for lane in range(LANES):
        text[lane] = n * lane // LANES
        last[lane] = n * (lane + 1) // LANES
        pos[lane] = offsets[text[lane]]
    active = True
    while active:
        active = False
        for lane in range(LANES):
            t = text[lane]
            if t >= last[lane]:
                continue
            active = True
            p = pos[lane]
            if p >= offsets[t + 1]:  # next text of this lane: the walk restarts
                text[lane] = t + 1
                state[lane] = 0
                continue
            s = nextmove[rowbase[state[lane]] + data[p]]
            state[lane] = s
            features[p] = output[s]
            pos[lane] = p + 1


@numba.njit(cache=True, nogil=True)
def _score(offsets, features, ptc, pc, alias, labels, confidence):
    n_classes = ptc.shape[1]
    counts = np.zeros(ptc.shape[0], dtype=np.int32)
    longest = 1
    for t in range(len(offsets) - 1):
        longest = max(longest, offsets[t + 1] - offsets[t])
    seen = np.empty(longest, dtype=np.int64)
    scores = np.empty(n_classes, dtype=np.float32)
    for t in range(len(offsets) - 1):
        start, end = offsets[t], offsets[t + 1]
        n_seen = 0
        for p in range(start, end):
            feature = features[p]
            if feature >= 0:
                if counts[feature] == 0:
                    seen[n_seen] = feature
                    n_seen += 1
                counts[feature] += 1
        scores[:] = 0.0
        for k in range(n_seen):
            feature = seen[k]
            weight = np.float32(np.log1p(np.float32(counts[feature])))
            counts[feature] = 0
            for c in range(n_classes):
                scores[c] += weight * ptc[feature, c]
        if n_seen:
            for c in range(n_classes):
                scores[c] += pc[c]
        scale = np.float32(1.0 / np.sqrt(max(end - start, 1)))
        top = -np.inf
        for c in range(n_classes):
            scores[c] *= scale
            top = max(top, scores[c])
        total = np.float32(0.0)
        for c in range(n_classes):
            scores[c] = np.exp(scores[c] - top)
            total += scores[c]
        for c in range(n_classes):
            scores[c] /= total
        for a in range(alias.shape[0]):
            scores[alias[a, 0]] += scores[alias[a, 1]]
            scores[alias[a, 1]] = 0.0
        best = 0
        for c in range(1, n_classes):
            if scores[c] > scores[best]:
                best = c
        labels[t] = best
        confidence[t] = scores[best]

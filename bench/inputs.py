"""Benchmark inputs from real sources available offline, generated once into ``.bench/``.

- metadata: WordNet 3.0 lemmas (Debian's ``wordnet-base``), the ``wordfreq`` English
  unigram list, and the most frequent bigrams of the texts, cut at 500,000 entries;
- texts: every WordNet gloss and example sentence (real short English texts), then a
  synthetic remainder of words drawn by their wordfreq frequency (Zipf-distributed), to
  ``N_TEXTS`` in all; written as Parquet pool shards too.
"""

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from metadata.build import build
from metadata.ngrams import count_ngrams
from metadata.wordnet import POS_FILES, all_lemma_names

WORDNET = Path("/usr/share/wordnet")
N_TEXTS = 1_000_000
N_ENTRIES = 500_000
SHARD_ROWS = 50_000


def wordnet_texts() -> list[str]:
    """Glosses and quoted examples of every synset, split at ';'."""
    texts = []
    for name in POS_FILES:
        for line in (WORDNET / name).read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            for part in line.split("|", 1)[1].split(";"):
                part = part.strip().strip('"').strip()
                if part:
                    texts.append(part[:1].upper() + part[1:])
    return texts


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    import wordfreq

    words = wordfreq.top_n_list("en", 200_000, wordlist="large")
    freq = np.array([wordfreq.word_frequency(w, "en", wordlist="large") for w in words])
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 18, size=n)
    picks = rng.choice(len(words), size=int(lengths.sum()), p=freq / freq.sum())
    out, pos = [], 0
    for length in lengths:
        text = " ".join(words[i] for i in picks[pos:pos + length])
        out.append(text[:1].upper() + text[1:] + rng.choice([".", "", "!", " - photo", ", 2019"]))
        pos += length
    return out


def metadata_entries(texts: list[str]) -> list[str]:
    import wordfreq

    unigrams = wordfreq.top_n_list("en", 10_000_000, wordlist="large")
    _, bigrams = count_ngrams(texts[:300_000])
    frequent = [b for b, c in bigrams.most_common() if c >= 3 and not re.search(r"\d", b)]
    sources = [("wordnet", all_lemma_names(str(WORDNET))), ("unigrams", unigrams), ("bigrams", frequent)]
    return build(sources, N_ENTRIES).entries


def ensure_inputs(folder: Path) -> dict:
    """Create the inputs under ``folder`` unless they are there; return their paths."""
    paths = {"metadata": folder / "metadata.json", "texts": folder / "texts.parquet", "pool": folder / "pool"}
    if all(p.exists() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    real = wordnet_texts()
    texts = real + synthetic_texts(N_TEXTS - len(real))
    paths["metadata"].write_text(json.dumps(metadata_entries(texts), ensure_ascii=False), encoding="utf-8")
    pq.write_table(pa.table({"text": pa.array(texts, pa.large_string()),
                             "source": ["wordnet"] * len(real) + ["zipf"] * (len(texts) - len(real))}),
                   paths["texts"])
    paths["pool"].mkdir(exist_ok=True)
    for i in range(0, len(texts), SHARD_ROWS):
        part = texts[i:i + SHARD_ROWS]
        keys = [f"t{i + j}" for j in range(len(part))]
        pq.write_table(pa.table({"key": keys, "url": [f"https://img.example/{k}.jpg" for k in keys], "text": part}),
                       paths["pool"] / f"part-{i // SHARD_ROWS:05d}.parquet")
    return paths


def describe(paths: dict) -> dict:
    table = pq.read_table(paths["texts"])
    texts = table["text"].to_pylist()
    sizes = [len(t.encode()) for t in texts]
    return {"texts": len(texts), "real_texts": table["source"].to_pylist().count("wordnet"),
            "mean_text_bytes": round(float(np.mean(sizes)), 1),
            "entries": len(json.loads(paths["metadata"].read_text(encoding="utf-8"))),
            "top_tokens": Counter(w for t in texts[:20000] for w in t.split()).most_common(3)}

"""``make bench`` matcher cases on real text only: texts/s on one core of the fast matcher
and of a pyahocorasick loop (``AhoCorasickMatcher``, MetaCLIP's own method) over the same
texts in the same run (each engine's best of three passes, in turns), their ratio, and
whether every result is identical.

    .venv/bin/python -m bench.matchers [--out .bench/matchers.json] [--cases en-v1,zh,...]

Cases (lists, then texts):

- ``en-v1``/``en-v2``: the 500k-entry English list of ``make bench`` (WordNet lemmas,
  wordfreq unigrams, frequent bigrams); WordNet's glosses and examples (184k sentences);
- ``zh``, ``ja``: wordfreq's ``large`` lists (334k, 215k words); ``ko``: wordfreq's list
  (30k words: all it has); ``th``: PyThaiNLP's word list and Thai Wikipedia titles (336k);
  texts: the translation catalogs of Django and Sphinx in that language;
- ``mixed``: 173k English entries beside 12k Chinese and Japanese words, over English
  glosses and Chinese and Japanese sentences.

Short catalogs are cycled to ``MIN_TEXTS`` texts so that each timing is long enough.
"""

import argparse
import json
import os
import time
from pathlib import Path

import pyarrow as pa

from bench import emit
from bench.corpora import po_sentences, thai_entries
from bench.inputs import ensure_inputs, wordnet_texts

REPO = Path(__file__).resolve().parent.parent
MIN_TEXTS = 100_000
BATCH = 50_000
REPEATS = 3
CATALOGS = ("django", "sphinx")
LANGS = {"zh": ("zh_Hans", "zh_CN", "zh_Hant", "zh_TW"), "ja": ("ja",), "ko": ("ko",), "th": ("th",)}


def _wordfreq(lang: str) -> list[str]:
    import wordfreq

    for wordlist in ("large", "best"):
        try:
            return wordfreq.top_n_list(lang, 10_000_000, wordlist=wordlist)
        except LookupError:
            continue
    raise LookupError(lang)


def _sentences(lang: str) -> list[str]:
    catalogs = po_sentences(CATALOGS)
    return [t for code in LANGS[lang] for t in catalogs.get(code, [])]


def _cycled(texts: list[str]) -> list[str]:
    return (texts * (MIN_TEXTS // max(len(texts), 1) + 1))[:max(MIN_TEXTS, len(texts))] if texts else []


def cases(names: list[str]) -> dict:
    """Case name -> (entries, texts, variant)."""
    paths = ensure_inputs(REPO / ".bench")
    english = json.loads(paths["metadata"].read_text(encoding="utf-8"))
    glosses = wordnet_texts()
    out = {}
    for name in names:
        if name in ("en-v1", "en-v2"):
            out[name] = (english, glosses, "metaclip-v1" if name == "en-v1" else "metaclip-v2")
        elif name in LANGS:
            entries = thai_entries() if name == "th" else _wordfreq(name)
            out[name] = (entries, _cycled(_sentences(name)), "metaclip-v2")
        elif name == "mixed":
            cjk = list(dict.fromkeys(_wordfreq("zh")[:6000] + _wordfreq("ja")[:6000]))
            texts = _cycled(glosses[:50_000] + _sentences("zh") * 10 + _sentences("ja") * 10)
            out[name] = (english[:185_000 - len(cjk)] + cjk, texts, "metaclip-v2")
        else:
            raise SystemExit(f"unknown case {name!r}")
    return out


def measure(entries: list[str], texts: list[str], variant: str, index_path: Path) -> dict:
    from curation.matching import AhoCorasickMatcher, Matcher

    start = time.perf_counter()
    matcher = Matcher(entries, variant)
    build_s = time.perf_counter() - start
    matcher.save(str(index_path))
    matcher = Matcher.load(str(index_path))
    arrow = pa.array(texts, pa.large_string())
    matcher.match_arrow(arrow.slice(0, 1000))  # compile / load the kernel first
    oracle = AhoCorasickMatcher(entries, variant)
    ours_s = theirs_s = float("inf")
    # Each engine's best of REPEATS passes, taken in turns: one pass of either moves by up to
    # 30% between runs on a shared machine.
    for _ in range(REPEATS):
        start = time.perf_counter()
        ours = [matcher.match_arrow(arrow.slice(i, BATCH)) for i in range(0, len(texts), BATCH)]
        ours_s = min(ours_s, time.perf_counter() - start)
        start = time.perf_counter()
        theirs = oracle.match_batch(texts)
        theirs_s = min(theirs_s, time.perf_counter() - start)
    ours_lists = [ids for batch in ours for ids in batch.to_pylist()]
    mismatched = sum(a != b for a, b in zip(ours_lists, theirs))
    n = len(texts)
    return {"entries": len(entries), "variant": variant, "texts": n,
            "mean_bytes_per_text": round(sum(len(t.encode()) for t in texts) / n, 1),
            "mean_matches_per_text": round(sum(map(len, ours_lists)) / n, 2),
            "ours_texts_per_s": round(n / ours_s), "pyahocorasick_texts_per_s": round(n / theirs_s),
            "speedup": round(theirs_s / ours_s, 2), "passes": REPEATS, "identical_results": mismatched == 0,
            "mismatched_texts": mismatched, "build_s": round(build_s, 2),
            "index_mb": round(index_path.stat().st_size / 2**20, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out")
    parser.add_argument("--cases", default="en-v1,en-v2,zh,ja,ko,th,mixed")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    work = REPO / ".bench" / "matchers"
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (entries, texts, variant) in cases(args.cases.split(",")).items():
        results[name] = measure(entries, texts, variant, work / f"{name}.idx")
        print(name, json.dumps(results[name]), flush=True)
    emit({"matchers": results}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

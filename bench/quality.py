"""``make bench`` quality case: alt-text quality scores per second on one core, on real text.

    .venv/bin/python -m bench.quality [--out .bench/quality.json]

Texts: WordNet glosses (English), the translated strings of Django's ``.po`` catalogs
(about 100 languages, each scored with its own language code) and the file names of
Debian's ``openclipart-png`` (file-name alt-texts). ``mean_score`` per group shows what the
shipped weights make of each.
"""

import argparse
import os
import time
from pathlib import Path

from bench import emit
from bench.corpora import po_sentences
from bench.inputs import wordnet_texts

OPENCLIPART = Path("/usr/share/openclipart/png")


def groups() -> dict[str, tuple[list[str], list[str]]]:
    """Group name -> (texts, their language codes)."""
    glosses = wordnet_texts()
    po = po_sentences(("django",))
    po_texts = [t for lang in sorted(po) for t in po[lang]]
    po_langs = [lang for lang in sorted(po) for _ in po[lang]]
    names = sorted(p.name for p in OPENCLIPART.rglob("*.png"))
    return {"wordnet_glosses": (glosses, ["en"] * len(glosses)), "django_po": (po_texts, po_langs),
            "openclipart_file_names": (names, ["en"] * len(names))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    from curation.quality.score import QualityScorer

    scorer = QualityScorer()
    results = {}
    for name, (texts, langs) in groups().items():
        start = time.perf_counter()
        scores = scorer.score_many(texts, langs)
        seconds = time.perf_counter() - start
        results[name] = {"texts": len(texts), "texts_per_s": round(len(texts) / seconds),
                         "mean_score": round(float(scores.mean()), 4),
                         "share_below_0.9": round(float((scores < 0.9).mean()), 4)}
    total = sum(r["texts"] for r in results.values())
    all_seconds = sum(r["texts"] / r["texts_per_s"] for r in results.values())
    emit({"quality": {**results, "all": {"texts": total, "texts_per_s": round(total / all_seconds)}}}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

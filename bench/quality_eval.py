"""``make bench`` quality evaluation: how well the quality score separates descriptive alt-texts
from junk, per language, on sources the shipped weights were never fitted on.

    .venv/bin/python -m bench.quality_eval [--out .bench/quality_eval.json] [--threshold 0.5]

Descriptive texts (held out: the fit uses WordNet's glosses and Django's catalogs):
- en: the titles of Debian's ``openclipart-png`` images (file name to words, 3+ words, as the
  issue tried them), CuPL's ImageNet descriptions and the class names of clip-benchmark's
  other datasets (flowers, cars, food, ...);
- zh, ja: clip-benchmark's ImageNet class names in Chinese and Japanese, alone and in its
  Chinese and Japanese prompt templates;
- other languages: Babel-ImageNet's class names (in clip-benchmark), alone and in clip-benchmark's
  NLLB-translated prompt templates of that language.

Junk: every family of ``curation.quality.junk`` from a seed the fit does not use, in the
language's own phrases where the family has them, plus two real families the fit never sees:
the file names of openclipart-png (``real_file_names``) and the navigation strings of Sphinx's
HTML themes as its translators wrote them in the language (``sphinx_navigation``: "Next
topic", "Quick search", "Show Source", ...; English for en).

Reported per language: ROC AUC (descriptive above junk; ties count half), the descriptive
texts' 10th percentile and share rejected at the threshold, and per junk family its median
score and reject rate.
"""

import argparse
import json
import random
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench import emit
from bench.corpora import wheel

OPENCLIPART = Path("/usr/share/openclipart/png")
EVAL_SEED = 20261204  # the fit uses curation.quality.fit.JUNK_SEED
LANGS = ("en", "zh", "ja", "de", "fr", "it", "es", "ko", "th", "ru")
PER_SOURCE = 1500
JUNK_PER_FAMILY = 300
# clip-benchmark's English class names of object datasets (not digits, counts or distances;
# not ImageNet's, which are WordNet lemmas and WordNet is in the fit).
_OBJECT_DATASETS = ("flowers", "gtsrb", "country211", "eurosat", "caltech101", "pets", "pcam",
                    "diabetic_retinopathy", "dmlab")


@lru_cache(maxsize=1)
def _clip_benchmark() -> dict:
    names = ("babel_imagenet", "cn_classnames", "jp_classnames", "en_classnames", "cupl_prompts",
             "cn_zeroshot_classification_templates", "jp_zeroshot_classification_templates",
             "nllb_dist13b_prompts")
    with zipfile.ZipFile(wheel("clip_benchmark")) as archive:
        return {n: json.loads(archive.read(f"clip_benchmark/datasets/{n}.json")) for n in names}


def openclipart_titles() -> list[str]:
    """``closed_bible_01.png`` -> ``closed bible 01``; titles of three or more words."""
    names = sorted({p.stem for p in OPENCLIPART.rglob("*.png")})
    titles = [" ".join(w for w in re.split(r"[_\-\s]+", n) if w) for n in names]
    return [t for t in titles if len(t.split()) >= 3]


def _filled(templates: list[str], names: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        template = rng.choice(templates)
        out.append(" ".join(template.replace("{c}", "{}").replace("{}", rng.choice(names)).split()).strip(' "'))
    return out


def _sample(texts, n: int, rng: random.Random) -> list[str]:
    texts = sorted({t.strip() for t in texts if t and t.strip()})
    return texts if len(texts) <= n else rng.sample(texts, n)


def descriptive(lang: str) -> dict[str, list[str]]:
    """Source name -> held-out descriptive texts of ``lang``."""
    rng = random.Random(f"descriptive-{lang}")
    cb = _clip_benchmark()
    if lang == "en":
        others = [c for name, classes in cb["en_classnames"].items() if name in _OBJECT_DATASETS for c in classes]
        cupl = [s for prompts in cb["cupl_prompts"]["imagenet1k"].values() for s in prompts]
        return {"openclipart_titles": _sample(openclipart_titles(), PER_SOURCE, rng),
                "cupl_descriptions": _sample(cupl, PER_SOURCE, rng),
                "clip_benchmark_class_names": _sample(others, PER_SOURCE, rng)}
    babel = cb["babel_imagenet"].get(lang.upper())
    names = list(babel[1]) if babel else []
    if lang in ("zh", "ja"):
        key = "cn" if lang == "zh" else "jp"
        names = sorted(set(names) | set(cb[f"{key}_classnames"]["imagenet1k"]))
        templates = cb[f"{key}_zeroshot_classification_templates"]["imagenet1k"]
    else:
        templates = cb["nllb_dist13b_prompts"].get(lang.upper(), [])
    out = {"class_names": _sample(names, PER_SOURCE, rng)}
    if templates:
        out["class_names_in_prompts"] = _filled(templates, names, rng, PER_SOURCE)
    return out


def junk(lang: str, seed: int = EVAL_SEED) -> dict[str, list[str]]:
    """Family -> junk texts for ``lang``: the generated families and openclipart's real file names."""
    from curation.quality.junk import generate_all

    families = generate_all(JUNK_PER_FAMILY, seed + sum(map(ord, lang)), lang)
    names = sorted(p.name for p in OPENCLIPART.rglob("*.png"))
    families["real_file_names"] = random.Random(seed).sample(names, min(JUNK_PER_FAMILY, len(names)))
    navigation = sphinx_navigation().get(lang)
    if navigation:
        families["sphinx_navigation"] = navigation
    return families


_SPHINX_NAVIGATION = ("Search", "Go", "Show Source", "Navigation", "Quick search", "Previous topic",
                      "previous chapter", "Next topic", "next chapter", "Table of Contents", "Search Page", "Index",
                      "Contents", "Search Results", "Expand sidebar", "Collapse sidebar", "This Page",
                      "Hide Search Matches", "General Index", "Overview")


@lru_cache(maxsize=1)
def sphinx_navigation() -> dict[str, list[str]]:
    """Language -> the translations of Sphinx's theme navigation strings (``zh_CN`` as ``zh``)."""
    from curation.quality.filters import normalise_lang

    out = {"en": list(_SPHINX_NAVIGATION)}
    pattern = re.compile(r'^msgid "(.*)"\nmsgstr "(.+)"$', re.MULTILINE)
    with zipfile.ZipFile(wheel("sphinx")) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith("sphinx.po") and "/locale/" in n):
            lang = normalise_lang(name.split("/locale/")[1].split("/")[0])
            found = dict(pattern.findall(archive.read(name).decode("utf-8", errors="replace")))
            texts = [found[m] for m in _SPHINX_NAVIGATION if found.get(m)]
            out.setdefault(lang, [])
            out[lang] += [t for t in texts if t not in out[lang]]
    return out


def evaluate_lang(scorer, lang: str, threshold: float) -> dict:
    from curation.quality.score import roc_auc as auc

    """The evaluation of ``lang``; ``auc`` and the family gate are over the generated families and
    openclipart's file names, ``sphinx_navigation`` (interface strings no phrase list was written
    from) is reported beside them, as ``auc_with_sphinx_navigation``."""
    good_sets = descriptive(lang)
    scored = {name: scorer.score_many(texts, [lang] * len(texts)) for name, texts in good_sets.items()}
    good = np.concatenate(list(scored.values()))
    p10 = float(np.percentile(good, 10))
    per_family, scores_of = {}, {}
    for family, texts in junk(lang).items():
        scores_of[family] = scores = scorer.score_many(texts, [lang] * len(texts))
        per_family[family] = {"texts": len(texts), "median": round(float(np.median(scores)), 4),
                              "rejected": round(float((scores < threshold).mean()), 4),
                              "median_below_descriptive_p10": bool(np.median(scores) < p10)}
    gated = [f for f in scores_of if f != "sphinx_navigation"]
    bad = np.concatenate([scores_of[f] for f in gated])
    result = {"descriptive": len(good), "junk": len(bad), "auc": round(auc(good, bad), 4),
              "descriptive_p10": round(p10, 4), "descriptive_rejected": round(float((good < threshold).mean()), 4),
              "junk_rejected": round(float((bad < threshold).mean()), 4),
              "families_median_below_p10": all(per_family[f]["median_below_descriptive_p10"] for f in gated),
              "sources": {name: {"texts": len(values), "rejected": round(float((values < threshold).mean()), 4)}
                          for name, values in scored.items()},
              "families": per_family}
    if "sphinx_navigation" in scores_of:
        result["auc_with_sphinx_navigation"] = round(auc(good, np.concatenate(list(scores_of.values()))), 4)
    return result


def write_sample(path: str, per_source: int = 60) -> None:
    """The small held-out sample ``tests/data/quality_heldout.tsv`` is cut from (same seed, same rows)."""
    rows = []
    for lang in ("en", "zh", "ja", "de", "fr"):
        for source, texts in descriptive(lang).items():
            picked = random.Random(f"sample-{lang}-{source}").sample(texts, min(per_source, len(texts)))
            rows += [f"{lang}\t{source}\t{' '.join(t.split())}" for t in sorted(picked)]
    Path(path).write_text("lang\tsource\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    from curation.quality.score import DEFAULT_THRESHOLD, QualityScorer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--write-sample", metavar="TSV", help="write the tests' held-out sample (lang, source, "
                                                               "text; 60 a source of en, zh, ja, de, fr) and stop")
    args = parser.parse_args(argv)
    if args.write_sample:
        write_sample(args.write_sample)
        return 0
    scorer = QualityScorer()
    results = {lang: evaluate_lang(scorer, lang, args.threshold) for lang in args.langs.split(",")}
    emit({"quality_eval": {"threshold": args.threshold, **results}}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

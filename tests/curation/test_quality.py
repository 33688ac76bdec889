"""The alt-text quality score, tested over sets: held-out descriptive texts of five languages
(``tests/data/quality_heldout.tsv``, cut by ``bench.quality_eval --write-sample`` from sources
the fit never saw) against junk families generated from a seed the fit does not use."""

import csv
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from curation.core.errors import InputError
from curation.quality.filters import FILTERS, evaluate, normalise_lang
from curation.quality.fit import (
    fit_weights,
    generated_junk,
    po_translations,
    weights_bytes,
    wordnet_glosses,
    wordnet_lemmas,
)
from curation.quality.junk import FAMILIES, generate, generate_all
from curation.quality.lm import CharLM, perplexity
from curation.quality.score import DEFAULT_THRESHOLD, SHIPPED, QualityScorer, histogram, load_weights
from curation.quality.score import roc_auc as auc
from jobs import cli

HELDOUT = Path(__file__).resolve().parent.parent / "data" / "quality_heldout.tsv"
TEST_SEED = 7  # neither the fit's seed nor the benchmark's
# The benchmark adds the families left out here (size, number, stuffing) and real file names.
TEST_FAMILIES = ("camera", "file_name", "placeholder", "boilerplate", "url_email", "repeated", "all_caps",
                 "one_letter")
# The texts the issue found scored as high as descriptions, as one more set.
ISSUE_JUNK = ["click here", "Image 6", "untitled-16", "image001", "logo", "thumbnail", "DSC_0042.JPG", "12345",
              "http://example.com/a.jpg", "300x250"]


def heldout(lang: str) -> list[str]:
    with open(HELDOUT, encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
                if row["lang"] == lang]


def scores(scorer, texts, lang) -> np.ndarray:
    return scorer.score_many(texts, [lang] * len(texts))


@pytest.mark.parametrize("lang,minimum", [("en", 0.97), ("zh", 0.95), ("ja", 0.95), ("de", 0.95), ("fr", 0.95)])
def test_descriptive_texts_rank_above_every_junk_family(lang, minimum):
    scorer = QualityScorer()
    good_texts = heldout(lang)
    assert len(good_texts) >= 100
    good = scores(scorer, good_texts, lang)
    p10 = np.percentile(good, 10)
    families = {f: generate(f, 150, random.Random(f"{TEST_SEED}-{f}"), lang) for f in TEST_FAMILIES}
    families["issue_examples"] = ISSUE_JUNK
    junk = {f: scores(scorer, texts, lang) for f, texts in families.items()}
    everything = np.concatenate(list(junk.values()))
    assert auc(good, everything) >= minimum
    for family, values in junk.items():
        assert np.median(values) < p10, family
    # At the documented threshold: at least 90% of the junk goes, at most 5% of the descriptions.
    assert (everything < DEFAULT_THRESHOLD).mean() >= 0.9
    assert (good < DEFAULT_THRESHOLD).mean() <= 0.05


def test_the_auc_counts_ties_as_half():
    assert auc(np.array([1.0, 1.0]), np.array([0.0])) == 1.0
    assert auc(np.array([0.5]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([0.2, 0.9]), np.array([0.5])) == 0.5


def test_noun_phrases_and_unspaced_scripts_pass_every_filter():
    """No filter fires on a bare noun phrase for lacking stop words, verbs or spaces."""
    for lang in ("en", "zh", "ja", "de", "fr"):
        texts = heldout(lang)
        failing = [t for t in texts if any(v is False for v in evaluate(t, lang))]
        assert len(failing) <= 0.02 * len(texts), (lang, failing[:5])
    # One Han character or hangul syllable is a word; a kana, a letter or a digit alone is not.
    assert [evaluate(t, lang)[0] for t, lang in [("猫", "zh"), ("공", "ko"), ("あ", "ja"), ("x", "en"),
                                                ("5", "en"), ("ox", "en")]] == [True, True, False, False, False, True]
    zh = dict(zip(FILTERS, evaluate("一只可爱的猫在沙发上", "zh")))
    assert zh["all_caps"] is None and zh["repetition"] is None and all(v is not False for v in zh.values())


# Which filter a family is built to trip (each family may trip others too).
DETECTOR = {"camera": "camera_code", "file_name": "file_name", "placeholder": "placeholder",
            "boilerplate": "boilerplate", "size": "size", "url_email": "url_email", "number": "placeholder",
            "stuffing": "repetition", "repeated": "repetition", "all_caps": "all_caps", "one_letter": "min_length"}


def test_each_family_trips_its_detector_in_every_language():
    assert set(DETECTOR) == set(FAMILIES)
    for lang in ("en", "de", "zh", "ja"):
        for family, texts in generate_all(200, TEST_SEED, lang).items():
            column = FILTERS.index(DETECTOR[family])
            tripped = sum(evaluate(t, lang)[column] is False for t in texts)
            assert tripped >= 0.75 * len(texts), (lang, family, tripped)


def test_language_values_are_normalised():
    assert [normalise_lang(v) for v in ["zh-Hans", "pt_BR", "deu", "FR", None, 3, ""]] == \
        ["zh", "pt", "de", "fr", "", "", ""]
    scorer = QualityScorer()
    assert scorer.score("Bild 3", "de-AT") == scorer.score("Bild 3", "deu") < DEFAULT_THRESHOLD
    # A language without weights of its own uses the English ones, with its own phrase lists.
    assert scorer.score("a photo of a cat", "xx") == scorer.score("a photo of a cat", "en") == 1.0
    assert scorer.score("imagen 3", "es") < DEFAULT_THRESHOLD


def test_scores_are_in_the_unit_interval_and_histogrammed():
    scorer = QualityScorer()
    texts = ["", None, "   ", "DSC_1.jpg", "A dog", "ÅÄÖ", "\U0001F600" * 3] + heldout("en")[:20]
    values = scorer.score_many(texts)
    assert ((values >= 0) & (values <= 1)).all() and values[0] == 0.0
    counts = histogram(values)
    assert len(counts) == 20 and sum(counts) == len(texts) and counts[-1] >= 15


def _reference() -> list[str]:
    """Real English prose shipped with Python: the standard library's module docstrings, by sentence."""
    import argparse
    import collections
    import email
    import json as json_module
    import logging
    import os
    import subprocess
    import tarfile
    import threading
    import typing

    docs = " ".join(m.__doc__ or "" for m in (argparse, collections, email, json_module, logging, os, subprocess,
                                               tarfile, threading, typing))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\n", docs) if len(s.split()) >= 3]


def test_fit_weighs_each_filter_by_the_share_of_its_failures_that_are_junk(tmp_path):
    reference = _reference()
    junk = generated_junk("en", 50)
    body = fit_weights(reference, junk, "en", order=3)
    assert set(body["filters"]) == set(FILTERS) and body["junk_texts"] == len(junk) == 50 * len(FAMILIES)
    eps = 1 / (len(reference) + len(junk))
    for name, f in body["filters"].items():
        expected = (f["junk_fail_rate"] + eps) / (f["junk_fail_rate"] + f["reference_fail_rate"] + 2 * eps)
        assert abs(f["weight"] - expected) < 1e-5, name
    # Detectors that fire on junk and not on prose weigh near 1; one that never fires, one half.
    assert body["filters"]["camera_code"]["weight"] > 0.95 and body["filters"]["placeholder"]["weight"] > 0.95
    assert body["filters"]["max_length"]["weight"] <= 0.5
    # The paper's perplexity rule, recorded beside: it gives the boilerplate detector little.
    assert body["filters"]["boilerplate"]["perplexity_drop"] < 0.1 < body["filters"]["boilerplate"]["weight"]
    assert weights_bytes(fit_weights(reference, junk, "en", order=3)) == weights_bytes(body)

    (tmp_path / "ref.txt").write_text("\n".join(reference), encoding="utf-8")
    argv = ["quality", "fit", "--reference", str(tmp_path / "ref.txt"), "--lang", "en", "--junk-per-family", "50",
            "--order", "3"]
    assert cli.main([*argv, "--out", str(tmp_path / "a" / "en.json")]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "b" / "en.json")]) == 0
    first = (tmp_path / "a" / "en.json").read_bytes()
    assert first == (tmp_path / "b" / "en.json").read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["en.json"]["lang"] == "en" and len(manifest["en.json"]["junk_sha256"]) == 64
    weights = load_weights(str(tmp_path / "a"))
    assert weights["en"]["file_name"] == json.loads(first)["filters"]["file_name"]["weight"]
    # Junk given as a file instead of generated.
    (tmp_path / "junk.txt").write_text("Image 3\nclick here\nDSC_0001.jpg\n", encoding="utf-8")
    assert cli.main(["quality", "fit", "--reference", str(tmp_path / "ref.txt"), "--lang", "en", "--junk",
                     str(tmp_path / "junk.txt"), "--out", str(tmp_path / "c" / "en.json")]) == 0
    assert json.loads((tmp_path / "c" / "en.json").read_text())["junk_texts"] == 3


def test_the_shipped_weights_are_reproducible_byte_for_byte(tmp_path, monkeypatch):
    """Refit German exactly as ``make quality-weights`` does (Django's catalogs from the registry)."""
    import hashlib
    import sys

    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    files = sorted(p.name for p in SHIPPED.glob("*.json") if p.name != "manifest.json")
    assert sorted(manifest) == files and {"en.json", "de.json", "zh.json", "ja.json"} <= set(files)
    for name in files:
        assert manifest[name]["sha256"] == hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest()
        assert manifest[name]["reference"] and manifest[name]["junk"]
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sample"))
    try:
        import make_quality_inputs
    finally:
        sys.path.pop(0)
    make_quality_inputs.main("build/quality", ["de"])
    assert cli.main(["quality", "fit", "--reference", "build/quality/django-de", "--lang", "de",
                     "--out", str(tmp_path / "w" / "de.json")]) == 0
    assert (tmp_path / "w" / "de.json").read_bytes() == (SHIPPED / "de.json").read_bytes()


def test_reference_readers_and_the_language_model():
    po = 'msgid ""\nmsgstr "Content-Type: text/plain"\n\nmsgid "Save"\nmsgstr "Speichern"\n\nmsgid "a"\n' \
         'msgstr ""\n"zwei "\n"Zeilen"\n'
    assert po_translations(po) == ["Speichern", "zwei Zeilen"]
    wordnet = "  1 This software and database is licensed | header\n00001740 03 n 01 entity 0 | that which exists\n"
    assert wordnet_glosses(wordnet) == ["that which exists"]
    assert wordnet_lemmas("  1 licence header\ngolden_retriever n 1 1 @ 1 0 02099601\n") == ["golden retriever"]
    lm = CharLM(3).fit(["the cat sat on the mat"] * 20)
    assert perplexity(lm.nll("the cat sat"), 12) < perplexity(lm.nll("zqx jjv kwp"), 12)
    with pytest.raises(ValueError):
        CharLM(0)


def test_a_bad_weights_file_is_a_clear_error(tmp_path):
    (tmp_path / "en.json").write_text('{"lang": "en"}')
    with pytest.raises(InputError, match="en.json: not a quality weights file"):
        load_weights(str(tmp_path / "en.json"))
    # A file of the earlier filters (stop_word, no placeholder) says to refit.
    old = {"lang": "en", "filters": {name: {"weight": 0.5} for name in FILTERS if name != "placeholder"}}
    (tmp_path / "en.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match=r"other filters \(no placeholder\); refit it"):
        load_weights(str(tmp_path / "en.json"))
    bad = {"lang": "en", "filters": {name: {"weight": 1.5 if name == "size" else 0.5} for name in FILTERS}}
    (tmp_path / "en.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"in \[0, 1\] \(size=1.5\)"):
        load_weights(str(tmp_path / "en.json"))

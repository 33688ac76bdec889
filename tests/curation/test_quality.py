"""The alt-text quality score: filters, shipped weights, and the weight fit (arXiv 2405.01582)."""

import json
import re

import pytest

from curation.core.errors import InputError
from curation.quality.filters import FILTERS, evaluate, normalise_lang
from curation.quality.fit import FLOOR, fit_weights, po_translations, weights_bytes, wordnet_glosses
from curation.quality.lm import CharLM, perplexity
from curation.quality.score import QualityScorer, histogram, load_weights
from jobs import cli

DESCRIPTIVE = {
    "en": ["A red apple on a wooden kitchen table", "Two children playing football in the park",
           "The old lighthouse at sunset", "Golden retriever puppy sleeping on a blue blanket"],
    "de": ["Ein roter Apfel auf einem Holztisch", "Zwei Kinder spielen im Park Fußball",
           "Der alte Leuchtturm bei Sonnenuntergang"],
    "fr": ["Une pomme rouge sur une table en bois", "Deux enfants jouent au football dans le parc",
           "Le vieux phare au coucher du soleil"],
}
JUNK = {
    "file_name": ["DSC_1234.jpg", "holiday_2019_final.png", "IMG-20190704-WA0012.jpeg"],
    "camera_code": ["IMG_4471", "DSC01234", "PXL 20230101 123456789"],
    "boilerplate": {"en": ["Image 3", "click here", "logo", "Read more"],
                    "de": ["Bild 3", "hier klicken", "Jetzt kaufen"],
                    "fr": ["Image 3", "cliquez ici", "En savoir plus"]},
}


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_junk_scores_below_descriptive_text_with_the_shipped_weights(lang):
    scorer = QualityScorer()
    worst_good = min(scorer.score(t, lang) for t in DESCRIPTIVE[lang])
    for kind in ("file_name", "camera_code", "boilerplate"):
        texts = JUNK[kind][lang] if isinstance(JUNK[kind], dict) else JUNK[kind]
        for text in texts:
            assert scorer.score(text, lang) < worst_good, (kind, text)
    assert worst_good == 1.0


def test_each_filter_catches_its_junk():
    verdicts = {t: dict(zip(FILTERS, evaluate(t, "en"))) for t in [
        "DSC_1234.jpg", "IMG_4471", "www.example.com/cat", "mail me at a@b.org", "Image 3", "click here to buy",
        "SUMMER SALE TODAY ONLY", "shoes shoes cheap shoes shoes sale", "!!! ??? ### 123", "x" * 400, "cat",
        "A cat sleeping on the sofa"]}
    assert verdicts["DSC_1234.jpg"]["file_name"] is False and verdicts["IMG_4471"]["camera_code"] is False
    assert verdicts["www.example.com/cat"]["url_email"] is False
    assert verdicts["mail me at a@b.org"]["url_email"] is False
    assert verdicts["Image 3"]["boilerplate"] is False and verdicts["click here to buy"]["boilerplate"] is False
    assert verdicts["SUMMER SALE TODAY ONLY"]["all_caps"] is False
    assert verdicts["shoes shoes cheap shoes shoes sale"]["repetition"] is False
    assert verdicts["!!! ??? ### 123"]["alpha_fraction"] is False and verdicts["x" * 400]["max_length"] is False
    assert verdicts["cat"]["min_length"] is False
    assert all(v is not False for v in verdicts["A cat sleeping on the sofa"].values())
    # Filters that cannot apply say so: no case in Chinese, no stop-word list for it.
    zh = dict(zip(FILTERS, evaluate("一只可爱的猫在沙发上", "zh")))
    assert zh["all_caps"] is None and zh["stop_word"] is None and zh["min_length"] is True


def test_language_values_are_normalised():
    assert [normalise_lang(v) for v in ["zh-Hans", "pt_BR", "deu", "FR", None, 3, ""]] == \
        ["zh", "pt", "de", "fr", "", "", ""]
    scorer = QualityScorer()
    assert scorer.score("Bild 3", "de-AT") == scorer.score("Bild 3", "deu") < 1.0
    assert scorer.score("a photo", "xx") == scorer.score("a photo", "en")  # no weights of its own: English ones


def test_scores_are_in_the_unit_interval_and_histogrammed():
    scorer = QualityScorer()
    texts = ["", None, "   ", "DSC_1.jpg", "A dog", "ÅÄÖ", "\U0001F600" * 3] + DESCRIPTIVE["en"]
    scores = scorer.score_many(texts)
    assert ((scores >= 0) & (scores <= 1)).all() and scores[0] < 0.5
    counts = histogram(scores)
    assert len(counts) == 20 and sum(counts) == len(texts) and counts[-1] >= len(DESCRIPTIVE["en"])


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


def test_fit_weighs_filters_by_the_reference_perplexity_and_is_reproducible(tmp_path):
    reference = _reference()
    texts = DESCRIPTIVE["en"] * 5 + JUNK["file_name"] * 10 + ["Image 3", "click here"] * 5
    body = fit_weights(reference, texts, "en")
    assert set(body["filters"]) == set(FILTERS) and body["texts"] == len(reference[1::2]) + len(texts)
    # File names are what a model of English prose finds least likely: removing them lowers perplexity.
    file_name = body["filters"]["file_name"]
    assert file_name["drop"] > 0.05 and file_name["perplexity"] < body["perplexity_all"]
    assert all(f["weight"] == max(FLOOR, f["drop"]) for f in body["filters"].values())
    assert weights_bytes(fit_weights(reference, texts, "en")) == weights_bytes(body)

    (tmp_path / "ref.txt").write_text("\n".join(reference), encoding="utf-8")
    (tmp_path / "alt.txt").write_text("\n".join(texts), encoding="utf-8")
    argv = ["quality", "fit", "--reference", str(tmp_path / "ref.txt"), "--texts", str(tmp_path / "alt.txt"),
            "--lang", "en"]
    assert cli.main([*argv, "--out", str(tmp_path / "a" / "en.json")]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "b" / "en.json")]) == 0
    first = (tmp_path / "a" / "en.json").read_bytes()
    assert first == (tmp_path / "b" / "en.json").read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["en.json"]["lang"] == "en" and len(manifest["en.json"]["reference_sha256"]) == 64
    weights = load_weights(str(tmp_path / "a"))
    assert weights["en"]["file_name"] == json.loads(first)["filters"]["file_name"]["weight"]
    assert QualityScorer(weights).score("DSC_1234.jpg") < QualityScorer(weights).score(DESCRIPTIVE["en"][0])


def test_the_shipped_weights_have_a_manifest_that_matches_them():
    import hashlib
    from pathlib import Path

    from curation.quality.score import SHIPPED

    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    files = sorted(p.name for p in Path(SHIPPED).glob("*.json") if p.name != "manifest.json")
    assert sorted(manifest) == files and {"en.json", "de.json", "fr.json"} <= set(files)
    for name in files:
        assert manifest[name]["sha256"] == hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest()
        assert manifest[name]["reference"] and manifest[name]["texts"]


def test_reference_readers_and_the_language_model():
    po = 'msgid ""\nmsgstr "Content-Type: text/plain"\n\nmsgid "Save"\nmsgstr "Speichern"\n\nmsgid "a"\n' \
         'msgstr ""\n"zwei "\n"Zeilen"\n'
    assert po_translations(po) == ["Speichern", "zwei Zeilen"]
    wordnet = "  1 This software and database is licensed | header\n00001740 03 n 01 entity 0 | that which exists\n"
    assert wordnet_glosses(wordnet) == ["that which exists"]
    lm = CharLM(3).fit(["the cat sat on the mat"] * 20)
    assert perplexity(lm.nll("the cat sat"), 12) < perplexity(lm.nll("zqx jjv kwp"), 12)
    with pytest.raises(ValueError):
        CharLM(0)


def test_a_bad_weights_file_is_a_clear_error(tmp_path):
    (tmp_path / "en.json").write_text('{"lang": "en"}')
    with pytest.raises(InputError, match="en.json: not a quality weights file"):
        load_weights(str(tmp_path / "en.json"))

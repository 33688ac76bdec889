"""The Spark n-gram job equals a plain Python count, and its files feed the builder."""

import json
import random

from jobs.ngrams import run_ngrams
from metadata.ngrams import count_ngrams
from metadata.sources import read_ngram_counts, read_pageviews

WORDS = ["red", "car", "hot", "dog", "the", "a", "new", "york", ",", "."]


def test_spark_ngram_counts_equal_python(spark, tmp_path):
    rng = random.Random(0)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(0, 8))) for _ in range(400)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\n".join(texts[:150]) + "\n")
    (corpus / "b.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[150:]))
    views = tmp_path / "views"
    views.mkdir()
    (views / "pageviews-1").write_text("en Hot_dog 5 0\nen Paris 3 0\nde Paris 9 0\n")
    (views / "pageviews-2").write_text("en Hot_dog 7 0\n")
    out = tmp_path / "out"
    sizes = run_ngrams(spark, str(corpus), str(out), pageviews=str(views), partitions=3)
    uni, bi = count_ngrams(texts)
    assert read_ngram_counts(str(out / "unigrams")) == uni
    assert read_ngram_counts(str(out / "bigrams")) == bi
    assert read_pageviews(str(out / "titles")) == {"Hot dog": 12, "Paris": 3}
    assert sizes == {"unigrams": len(uni), "bigrams": len(bi), "titles": 2}
    assert len(list((out / "unigrams").glob("part-*.tsv"))) == 3

"""`curate metadata ngrams`: unigram and bigram counts of a text corpus, and page-view sums,
on Spark, as the count files `curate metadata build` reads.

Each task counts one corpus file with ``metadata.ngrams`` and the per-file counts meet in
``reduceByKey`` (a shuffle is right here: the keys are the n-grams themselves); each output
partition is written through fsspec as ``part-NNNNN.tsv``.
"""

import logging
from functools import partial

from curation.core.io import join, list_files, using_storage
from metadata.ngrams import CORPUS_SUFFIXES, count_ngrams, iter_corpus_texts, write_counts_tsv
from metadata.sources import read_pageviews

log = logging.getLogger("curate")


def _file_ngrams(text_column: str, storage, url: str):
    with using_storage(storage):
        uni, bi = count_ngrams(iter_corpus_texts(url, text_column))
    return [(("u", k), v) for k, v in uni.items()] + [(("b", k), v) for k, v in bi.items()]


def _write_part(folder: str, kind: str, storage, index: int, items) -> list[int]:
    rows = [(key[1], count) for key, count in items if key[0] == kind]
    with using_storage(storage):
        write_counts_tsv(join(folder, f"part-{index:05d}.tsv"), rows)
    return [len(rows)]


def _pageviews(project: str, storage, url: str):
    with using_storage(storage):
        return [(("t", k), v) for k, v in read_pageviews(url, project).items()]


def _write(rdd, out: str, kind: str, name: str, storage) -> int:
    return sum(rdd.mapPartitionsWithIndex(partial(_write_part, join(out, name), kind, storage)).collect())


def run_ngrams(spark, corpus: str | None, out: str, text_column: str = "text", pageviews: str | None = None,
               project: str = "en", partitions: int | None = None, storage=None) -> dict:
    """Write ``unigrams/``, ``bigrams/`` (from ``corpus``) and ``titles/`` (from page-view
    dumps) under ``out``; returns the number of distinct keys of each."""
    sc = spark.sparkContext
    partitions = partitions or sc.defaultParallelism
    result = {}
    if corpus:
        files = list_files(corpus, CORPUS_SUFFIXES)
        sc.setJobDescription(f"ngrams: {len(files)} corpus files")
        counts = sc.parallelize(files, max(1, len(files))).flatMap(partial(_file_ngrams, text_column, storage))
        counts = counts.reduceByKey(lambda a, b: a + b, partitions).cache()
        result["unigrams"] = _write(counts, out, "u", "unigrams", storage)
        result["bigrams"] = _write(counts, out, "b", "bigrams", storage)
        counts.unpersist()
    if pageviews:
        files = list_files(pageviews, ("",))
        sc.setJobDescription(f"page views: {len(files)} dump files")
        views = sc.parallelize(files, max(1, len(files))).flatMap(partial(_pageviews, project, storage))
        result["titles"] = _write(views.reduceByKey(lambda a, b: a + b, partitions), out, "t", "titles", storage)
    sc.setJobDescription(None)
    log.info("ngrams: %s", ", ".join(f"{k} {v:,}" for k, v in result.items()))
    return result

"""Readers of the count files the builder takes, in documented formats.

- n-gram counts: TSV lines ``ngram<TAB>count`` (unigrams or bigrams; a bigram's two tokens
  are separated by one space, or by nothing for languages written without spaces).
- page views: Wikimedia page-view dump lines ``project title views bytes`` (titles use
  ``_`` for spaces; only lines of the chosen project count), or a TSV ``title<TAB>views``
  as ``curate metadata ngrams`` writes it. Views of the same title are summed.
Files may be gzip-compressed (``.gz``).
"""

from collections import Counter

from curation.core.errors import InputError
from curation.core.io import get_fs


def _lines(url: str):
    fs, path = get_fs(url)
    try:
        with fs.open(path, "rt", encoding="utf-8", errors="replace", compression="infer") as f:
            yield from enumerate(f, 1)
    except FileNotFoundError:
        raise InputError(f"{url}: file not found") from None


def _files(url: str) -> list[str]:
    """A file, or the ``part-*`` files of a folder written by ``curate metadata ngrams``."""
    from curation.core.io import is_dir, list_files

    return list_files(url, (".tsv", ".tsv.gz", ".txt", ".gz")) if is_dir(url) else [url]


def read_ngram_counts(url: str) -> Counter:
    """``{ngram: count}`` from TSV ``ngram<TAB>count`` lines (a file or a folder of parts)."""
    counts: Counter = Counter()
    for part in _files(url):
        _add_ngram_counts(counts, part)
    return counts


def _add_ngram_counts(counts: Counter, url: str) -> None:
    for number, line in _lines(url):
        line = line.rstrip("\n")
        if not line:
            continue
        ngram, sep, count = line.rpartition("\t")
        if not sep or not count.strip().isdigit():
            raise InputError(f"{url}: line {number} is not 'ngram<TAB>count': {line[:80]!r}")
        counts[ngram] += int(count)


def read_pageviews(url: str, project: str = "en") -> Counter:
    """``{title: views}`` summed over the lines of ``project`` (dump lines or TSV; a file or
    a folder of parts)."""
    views: Counter = Counter()
    for part in _files(url):
        _add_pageviews(views, part, project)
    return views


def _add_pageviews(views: Counter, url: str, project: str) -> None:
    for number, line in _lines(url):
        line = line.rstrip("\n")
        if not line:
            continue
        if "\t" in line:
            title, _, count = line.rpartition("\t")
        else:
            fields = line.split(" ")
            if len(fields) < 3:
                raise InputError(f"{url}: line {number} is not 'project title views bytes': {line[:80]!r}")
            if fields[0] != project:
                continue
            title, count = fields[1].replace("_", " "), fields[2]
        if not count.isdigit():
            raise InputError(f"{url}: line {number} has a views field that is not a number: {count!r}")
        views[title] += int(count)


def read_entry_list(url: str) -> list[str]:
    """A plain list of extra entries: one a line, or a JSON list."""
    from curation.core.io import read_bytes
    from curation.matching.metadata_io import parse_metadata

    return parse_metadata(read_bytes(url), url)

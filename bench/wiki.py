"""``make bench`` worldwide-metadata case: `curate metadata wiki`'s work per language on one core.

    .venv/bin/python -m bench.wiki [--out .bench/wiki.json]

Dumps are written in MediaWiki's export format (multistream bz2 with its index,
``tests.wiki_dumps``) from real sentences: the strings of the translation catalogs of Django,
Sphinx, Wagtail and django-allauth (en: their source strings), one half of them; the list is
built by the default rules. Reported per language: pages per second for extraction (bz2, XML,
wikitext to text with mwparserfromhell) and for segmentation and counting, and the list's
held-out coverage: the number of texts of the other half in which the list finds an entry,
beside the same for a general frequency list's most frequent words, as many (wordfreq's; for
th, which wordfreq lacks, the Thai National Corpus's counts that PyThaiNLP ships).
"""

import argparse
import os
import tempfile
from pathlib import Path

from bench import emit

LANGS = ("en", "de", "fr", "zh", "ja", "th")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    from bench.corpora import WIDE_PACKAGES, frequent_words
    from curation.matching.matcher import Matcher
    from metadata.segment import segment
    from metadata.wiki import plan_blocks, read_namespaces
    from metadata.worldwide import WikiCounts, WikiRules, build_wiki_list, count_block
    from tests.metadata.test_wiki import split
    from tests.wiki_dumps import wiki_pages, write_dump

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lang in LANGS:
            titles, train, held_out = split(lang, WIDE_PACKAGES)
            folder = Path(tmp) / lang
            folder.mkdir()
            dump = write_dump(folder, lang, wiki_pages(lang, titles, train)[0])
            namespaces = read_namespaces(dump)
            segment(lang, titles[0])  # loads the segmenter's dictionary: not a per-page cost
            counts = WikiCounts()
            for block in plan_blocks(dump):
                counts.add(count_block(lang, namespaces, block))
            built = build_wiki_list(counts, lang, WikiRules()).entries
            row = {"pages": counts.pages, "chars": counts.chars,
                   "extract_pages_per_s": round(counts.pages / counts.extract_s, 1),
                   "segment_pages_per_s": round(counts.pages / counts.segment_s, 1),
                   "segment_chars_per_s": round(counts.chars / counts.segment_s),
                   "list_entries": len(built), "held_out_texts": len(held_out),
                   "held_out_covered": _covered(Matcher, built, held_out),
                   "frequency_list": "tnc" if lang == "th" else "wordfreq",
                   "frequency_list_covered": _covered(Matcher, frequent_words(lang, len(built)), held_out)}
            results[lang] = row
    emit({"wiki": results}, args.out)
    return 0


def _covered(matcher_class, entries, texts) -> int:
    return sum(bool(ids) for ids in matcher_class(entries).match_batch(texts))


if __name__ == "__main__":
    raise SystemExit(main())

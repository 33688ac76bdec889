"""Read WordNet 3.0 database files (``data.noun``, ``data.verb``, ``data.adj``,
``data.adv``) directly, as Debian's ``wordnet-base`` or NLTK's corpus hold them.

MetaCLIP takes ``synset.name().split(".")[0]`` with underscores made spaces. NLTK names a
synset after its first lemma, lowercased, so the head entry of a synset is its first
lemma lowercased, cut at the first ``.`` ("u.s." -> "u"), ``_`` -> `` ``.
"""

import re
from collections.abc import Iterator

from curation.core.errors import InputError
from curation.core.io import exists, join, read_bytes

POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def iter_synsets(wordnet_dir: str) -> Iterator[list[str]]:
    """Yield each synset's lemma names (adjective markers removed), in file order."""
    found = False
    for name in POS_FILES:
        url = join(wordnet_dir, name)
        if not exists(url):
            continue
        found = True
        yield from _parse_data_file(read_bytes(url).decode("utf-8", errors="replace"), url)
    if not found:
        raise InputError(f"{wordnet_dir}: no WordNet data files ({', '.join(POS_FILES)})")


def _parse_data_file(text: str, url: str) -> Iterator[list[str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("  "):  # the licence header
            continue
        fields = line.split(" ")
        try:
            count = int(fields[3], 16)
            yield [_ADJ_MARKER.sub("", fields[4 + 2 * i]) for i in range(count)]
        except (IndexError, ValueError):
            raise InputError(f"{url}: line {number} is not a WordNet data line") from None


def synset_head_names(wordnet_dir: str) -> list[str]:
    """Entries as MetaCLIP takes them: one per synset from its head lemma, in file order
    (duplicates kept; the builder de-duplicates)."""
    return [lemmas[0].lower().split(".")[0].replace("_", " ") for lemmas in iter_synsets(wordnet_dir)]


def all_lemma_names(wordnet_dir: str) -> list[str]:
    """Every lemma of every synset, case kept, ``_`` -> `` `` (the wider option)."""
    return [lemma.replace("_", " ") for lemmas in iter_synsets(wordnet_dir) for lemma in lemmas]

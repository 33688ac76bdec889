"""The options of the curators' tools (``curate metadata build|stats|diff|import|ngrams``)."""

import math
from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import at_least, opt, require


@dataclass(kw_only=True)
class MetadataBuildConfig:
    SECTION: ClassVar[str] = "build"
    wordnet: str | None = opt(None, "folder of WordNet 3.0 data.* files (e.g. /usr/share/wordnet)")
    wordnet_lemmas: str = opt("head", "head: synset names as MetaCLIP takes them; all: every lemma",
                              choices=["head", "all"])
    unigrams: str | None = opt(None, "TSV ngram<TAB>count (file or folder of parts)")
    bigrams: str | None = opt(None, "TSV 'a b'<TAB>count; PMI needs --unigrams too")
    titles: str | None = opt(None, "Wikimedia page-view dump lines 'project title views bytes', or TSV")
    title_project: str = opt("en", "page-view project to count")
    extra: list = opt([], "extra entries (one a line, or JSON); repeatable")
    numbers: bool = opt(True, "include the numbers 0..99")
    budget: int = opt(500_000, "maximum entries")
    min_unigram_count: int = opt(100, "smallest unigram count kept")
    min_bigram_pmi: float = opt(30.0, "smallest bigram PMI kept, in bits")
    min_title_views: int = opt(70, "smallest title page views kept")
    lang: str = opt("en", "language of the list (no-space languages join bigrams)")
    out: str = opt(help="output FILE.json (FILE.manifest.json is written beside it)")

    def __post_init__(self):
        require(not (self.bigrams and not self.unigrams), "bigrams", self.bigrams,
                "needs --unigrams too (a bigram's PMI is taken against the unigram counts)")
        at_least(self.budget, 1, "budget")
        require(isinstance(self.min_bigram_pmi, (int, float)) and math.isfinite(self.min_bigram_pmi),
                "min_bigram_pmi", self.min_bigram_pmi, "must be a finite number")
        at_least(self.min_unigram_count, 0, "min_unigram_count")
        at_least(self.min_title_views, 0, "min_title_views")


@dataclass(kw_only=True)
class MetadataStatsConfig:
    SECTION: ClassVar[str] = "stats"
    file: str = opt(help="metadata list (JSON list or one entry a line)", positional=True)


@dataclass(kw_only=True)
class MetadataDiffConfig:
    SECTION: ClassVar[str] = "diff"
    old: str = opt(help="the older list", positional=True)
    new: str = opt(help="the newer list", positional=True)
    mapping: str | None = opt(None, "write old_id,new_id (-1: removed) as Parquet here")
    show: int = opt(10, "how many added/removed entries to print")


@dataclass(kw_only=True)
class MetadataImportConfig:
    SECTION: ClassVar[str] = "import"
    file: str = opt(help="MetaCLIP metadata.json (a JSON list of strings)", positional=True)
    out: str = opt(help="where to write the list (its manifest goes beside it)")


@dataclass(kw_only=True)
class NgramsConfig:
    SECTION: ClassVar[str] = "ngrams"
    corpus: str | None = opt(None, "folder of .txt/.jsonl/.parquet text shards", path=True)
    text_column: str = opt("text", "column holding the text")
    pageviews: str | None = opt(None, "folder of Wikimedia page-view dump files", path=True)
    project: str = opt("en", "page-view project to count")
    out: str = opt(help="folder for unigrams/, bigrams/, titles/", path=True)
    partitions: int | None = opt(None, "output parts per kind (default: Spark's parallelism)")


@dataclass(kw_only=True)
class MetadataWikiConfig:
    """Per-language lists from Wikipedia dumps, by Meta CLIP 2's rules."""

    SECTION: ClassVar[str] = "wiki"
    dump: str | None = opt(None, "one pages-articles dump (.xml.bz2, multistream with its index beside it, or .xml)",
                           path=True)
    dumps: str | None = opt(None, "a folder of dumps, one language each (xxwiki-DATE-pages-articles*.xml.bz2)",
                            path=True)
    lang: str | None = opt(None, "language of --dump (ISO 639-1; --dumps takes it from each file name)")
    out: str = opt(help="folder for <lang>.json lists and their manifests", path=True)
    pageviews: str | None = opt(None, "Wikimedia page-view dump files (a file or folder): titles by views; "
                                      "without it, by the links pointing at each article", path=True)
    wordnet_lmf: str | None = opt(None, "multilingual WordNet lemmas: WN-LMF XML or an Open Multilingual Wordnet "
                                        "tab file", path=True)
    unigram_share: float = opt(0.10, "top share of the distinct unigrams kept, by count")
    max_unigrams: int = opt(251_465, "most unigrams kept")
    min_bigram_pmi: float = opt(30.0, "bigrams kept have a PMI above this, in bits")
    max_bigrams: int = opt(100_646, "most bigrams kept")
    title_share: float = opt(0.76, "top share of the titles kept, by page views (or links)")
    max_titles: int = opt(61_235, "most titles kept")
    numbers: bool = opt(True, "include the numbers 0..99")

    def __post_init__(self):
        require((self.dump is None) != (self.dumps is None), "dump", self.dump, "give --dump or --dumps (one)")
        require(self.dump is None or bool(self.lang), "lang", self.lang, "--dump needs --lang")
        for name in ("unigram_share", "title_share"):
            value = getattr(self, name)
            require(isinstance(value, (int, float)) and 0 < value <= 1, name, value, "must be a share in (0, 1]")
        for name in ("max_unigrams", "max_bigrams", "max_titles"):
            at_least(getattr(self, name), 0, name)
        require(isinstance(self.min_bigram_pmi, (int, float)) and math.isfinite(self.min_bigram_pmi),
                "min_bigram_pmi", self.min_bigram_pmi, "must be a finite number")

"""Build a metadata list from named sources, deterministically.

Sources are taken in this order (MetaCLIP's Table 1, plus the numbers the reference adds
after WordNet): WordNet synset names, the numbers 0..99, Wikipedia unigrams with
count >= ``min_unigram_count``, bigrams with PMI >= ``min_bigram_pmi``, titles with
>= ``min_title_views`` views, then extra lists. Within a source the order is fixed: file
order for WordNet and extra lists, otherwise by count (or PMI) descending, ties by the
string. An entry is kept at its first occurrence; empty, punctuation-only and over-256-
character entries are excluded; the list stops at ``budget`` entries. The same inputs
always give the same bytes.
"""

from collections import Counter
from dataclasses import dataclass, field

from metadata.ngrams import NO_SPACE_LANGUAGES, is_punctuation_only, pmi

MAX_ENTRY_CHARS = 256
DEFAULT_BUDGET = 500_000


@dataclass
class BuildOptions:
    budget: int = DEFAULT_BUDGET
    min_unigram_count: int = 100
    min_bigram_pmi: float = 30.0
    min_title_views: int = 70
    numbers: bool = True
    lang: str = "en"


@dataclass
class BuildResult:
    entries: list[str]
    per_source: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)


def exclusion_reason(entry: str) -> str | None:
    """Why the reference would not keep ``entry``, or None."""
    if not entry.strip():
        return "empty"
    if is_punctuation_only(entry):
        return "punctuation only"
    if len(entry) > MAX_ENTRY_CHARS:
        return f"over {MAX_ENTRY_CHARS} characters"
    return None


def ranked(counts: Counter, minimum: float) -> list[str]:
    """Keys with value >= minimum, by value descending, ties by key."""
    return [k for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v >= minimum]


def select_bigrams(bigrams: Counter, unigrams: Counter, min_pmi: float, lang: str) -> list[str]:
    """Bigrams ``"a b"`` with PMI >= ``min_pmi``, by PMI descending; joined without a
    space for languages written without spaces."""
    total_uni, total_bi = sum(unigrams.values()), sum(bigrams.values())
    scored = Counter()
    for bigram, count in bigrams.items():
        a, sep, b = bigram.partition(" ")
        if sep:
            scored[bigram] = pmi(count, unigrams.get(a, 0), unigrams.get(b, 0), total_uni, total_bi)
    joiner = "" if lang in NO_SPACE_LANGUAGES else " "
    return [bg.replace(" ", joiner, 1) for bg in ranked(scored, min_pmi)]


def build(sources: list[tuple[str, list[str]]], budget: int) -> BuildResult:
    """Concatenate ``(name, entries)`` sources in order: dedup, exclusions, budget."""
    seen: set[str] = set()
    result = BuildResult(entries=[])
    for name, entries in sources:
        kept = 0
        for entry in entries:
            if len(result.entries) >= budget:
                break
            reason = exclusion_reason(entry)
            if reason:
                result.excluded[reason] = result.excluded.get(reason, 0) + 1
            elif entry not in seen:
                seen.add(entry)
                result.entries.append(entry)
                kept += 1
        result.per_source[name] = result.per_source.get(name, 0) + kept
    return result


def numbers() -> list[str]:
    return [str(i) for i in range(100)]


@dataclass
class SourceFiles:
    """The inputs a curator names; each is optional."""

    wordnet: str | None = None
    wordnet_lemmas: str = "head"  # "head": synset names as the reference; "all": every lemma
    unigrams: str | None = None
    bigrams: str | None = None
    titles: str | None = None
    title_project: str = "en"
    extra: list[str] = field(default_factory=list)

    def urls(self) -> list[tuple[str, str]]:
        named = [("wordnet", self.wordnet), ("unigrams", self.unigrams), ("bigrams", self.bigrams),
                 ("titles", self.titles)] + [("extra", e) for e in self.extra]
        return [(kind, url) for kind, url in named if url]


def read_sources(files: SourceFiles, opts: BuildOptions) -> list[tuple[str, list[str]]]:
    """Read and threshold each named source, in the builder's source order."""
    from metadata import sources, wordnet

    out: list[tuple[str, list[str]]] = []
    if files.wordnet:
        read = wordnet.all_lemma_names if files.wordnet_lemmas == "all" else wordnet.synset_head_names
        out.append(("wordnet", read(files.wordnet)))
    if opts.numbers:
        out.append(("numbers", numbers()))
    unigrams = sources.read_ngram_counts(files.unigrams) if files.unigrams else Counter()
    if files.unigrams:
        out.append(("unigrams", ranked(unigrams, opts.min_unigram_count)))
    if files.bigrams:
        if not files.unigrams:
            raise ValueError("--bigrams needs --unigrams: PMI is computed from both")
        bigrams = sources.read_ngram_counts(files.bigrams)
        out.append(("bigrams", select_bigrams(bigrams, unigrams, opts.min_bigram_pmi, opts.lang)))
    if files.titles:
        out.append(("titles", ranked(sources.read_pageviews(files.titles, files.title_project),
                                     opts.min_title_views)))
    for url in files.extra:
        out.append(("extra", sources.read_entry_list(url)))
    return out


def build_list(files: SourceFiles, opts: BuildOptions) -> tuple[BuildResult, dict]:
    """Build the list; returns it with the manifest information (thresholds, inputs)."""
    from metadata.manifest import file_sha256

    result = build(read_sources(files, opts), opts.budget)
    inputs = [{"source": kind, "path": url, "sha256": _input_sha(url, file_sha256)} for kind, url in files.urls()]
    info = {"entries": len(result.entries), "per_source": result.per_source, "excluded": result.excluded,
            "lang": opts.lang, "budget": opts.budget, "wordnet_lemmas": files.wordnet_lemmas,
            "thresholds": {"min_unigram_count": opts.min_unigram_count, "min_bigram_pmi": opts.min_bigram_pmi,
                           "min_title_views": opts.min_title_views},
            "inputs": inputs}
    return result, info


def _input_sha(url: str, file_sha256) -> str:
    from curation.core.io import is_dir, list_files

    if not is_dir(url):
        return file_sha256(url)
    # A folder (WordNet): hash of the sorted (name, sha256) of its data files.
    import hashlib

    parts = [f"{u.rsplit('/', 1)[-1]} {file_sha256(u)}" for u in list_files(url, ("",))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()



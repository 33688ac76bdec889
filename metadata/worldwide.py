"""Per-language metadata lists from Wikipedia dumps, by Meta CLIP 2's rules (arXiv 2507.22062):
the numbers 0-99, multilingual WordNet lemmas (when given), unigrams (the top 10% by count, at
most 251,465), bigrams (PMI above 30 bits, by PMI, at most 100,646) and titles (the top 76% by
page views, at most 61,235); entries over 256 characters or of punctuation only are dropped
(``metadata.build``). Without page views, titles are ranked by the links pointing at them
from the dump's articles, redirects followed to their targets.

``count_block`` does one task's work (a block of a dump: extract, segment, count);
``WikiCounts.add`` merges the tasks' results; ``build_wiki_list`` applies the rules."""

import math
import time
from collections import Counter
from dataclasses import dataclass, field

from metadata.build import build, numbers, ranked
from metadata.ngrams import NO_SPACE_LANGUAGES, is_punctuation_only, pmi


@dataclass
class WikiRules:
    """Meta CLIP 2's per-language thresholds (its defaults)."""

    unigram_share: float = 0.10
    max_unigrams: int = 251_465
    min_bigram_pmi: float = 30.0
    max_bigrams: int = 100_646
    title_share: float = 0.76
    max_titles: int = 61_235
    numbers: bool = True


@dataclass
class WikiCounts:
    """What the tasks of one language's dump add up to."""

    unigrams: Counter = field(default_factory=Counter)
    bigrams: Counter = field(default_factory=Counter)
    links: Counter = field(default_factory=Counter)
    redirects: dict = field(default_factory=dict)
    titles: set = field(default_factory=set)
    pages: int = 0
    redirect_pages: int = 0
    chars: int = 0
    extract_s: float = 0.0
    segment_s: float = 0.0
    blocks: int = 0

    def add(self, other: "WikiCounts") -> "WikiCounts":
        self.unigrams.update(other.unigrams)
        self.bigrams.update(other.bigrams)
        self.links.update(other.links)
        self.redirects.update(other.redirects)
        self.titles |= other.titles
        for name in ("pages", "redirect_pages", "chars", "extract_s", "segment_s", "blocks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def count_block(lang: str, namespaces: dict, block) -> WikiCounts:
    """One task: the block's articles as text, segmented, counted."""
    from metadata.segment import segment
    from metadata.wiki import iter_pages

    counts = WikiCounts(blocks=1)
    pages = iter(iter_pages(block, namespaces))
    while True:
        start = time.perf_counter()
        page = next(pages, None)
        counts.extract_s += time.perf_counter() - start
        if page is None:
            return counts
        if page.redirect is not None:
            counts.redirects[page.title] = page.redirect
            counts.redirect_pages += 1
            continue
        counts.pages += 1
        counts.titles.add(page.title)
        counts.links.update(page.links)
        start = time.perf_counter()
        for line in page.text.splitlines():
            counts.chars += len(line)
            words = [w if not is_punctuation_only(w) else None for w in segment(lang, line)]
            counts.unigrams.update(w for w in words if w)
            counts.bigrams.update(f"{a} {b}" for a, b in zip(words, words[1:]) if a and b)
        counts.segment_s += time.perf_counter() - start


def top_share(counts: Counter, share: float, cap: int) -> list[str]:
    """The top ``share`` of the keys by count (ties by key), at most ``cap``."""
    order = ranked(counts, 1)
    return order[:min(cap, math.ceil(share * len(order)))]


def select_bigrams(counts: WikiCounts, rules: WikiRules, lang: str) -> list[str]:
    """Bigrams with PMI above the threshold, by PMI (ties by the bigram), at most the cap."""
    total_uni, total_bi = sum(counts.unigrams.values()), sum(counts.bigrams.values())
    scored = {}
    for bigram, n in counts.bigrams.items():
        a, _, b = bigram.partition(" ")
        value = pmi(n, counts.unigrams.get(a, 0), counts.unigrams.get(b, 0), total_uni, total_bi)
        if value > rules.min_bigram_pmi:
            scored[bigram] = value
    joiner = "" if lang in NO_SPACE_LANGUAGES else " "
    order = sorted(scored, key=lambda k: (-scored[k], k))[: rules.max_bigrams]
    return [bg.replace(" ", joiner, 1) for bg in order]


def title_scores(counts: WikiCounts, pageviews: Counter | None) -> Counter:
    """Each article title's score: its page views, else the links to it (redirects followed)."""
    if pageviews is not None:
        return Counter({t: pageviews[t.replace(" ", "_")] + pageviews[t] for t in counts.titles
                        if pageviews[t.replace(" ", "_")] + pageviews[t] > 0})
    inlinks = Counter()
    for target, n in counts.links.items():
        seen = 0
        while target in counts.redirects and seen < 5:  # double redirects, without looping
            target, seen = counts.redirects[target], seen + 1
        if target in counts.titles:
            inlinks[target] += n
    return inlinks


def build_wiki_list(counts: WikiCounts, lang: str, rules: WikiRules, wordnet: list[str] = (),
                    pageviews: Counter | None = None):
    """The list of ``lang`` (a ``metadata.build.BuildResult``) from its dump's counts."""
    sources = [("wordnet", list(wordnet))] if wordnet else []
    if rules.numbers:
        sources.append(("numbers", numbers()))
    sources.append(("unigrams", top_share(counts.unigrams, rules.unigram_share, rules.max_unigrams)))
    sources.append(("bigrams", select_bigrams(counts, rules, lang)))
    sources.append(("titles", top_share(title_scores(counts, pageviews), rules.title_share, rules.max_titles)))
    return build(sources, budget=10**9)


def read_wordnet_lemmas(url: str, lang: str) -> list[str]:
    """Lemmas of ``lang`` from a WN-LMF XML file (its Lexicon of that language) or an Open
    Multilingual Wordnet tab file (``synset<TAB>xxx:lemma<TAB>lemma`` lines), in file order."""
    import re

    from curation.core.errors import InputError
    from curation.core.io import read_bytes
    from curation.matching.langroute import ALIASES

    text = read_bytes(url).decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise InputError(f"{url}: not WN-LMF XML ({exc})") from None
        lemmas = []
        for lexicon in root.iter("Lexicon"):
            code = (lexicon.get("language") or "").split("-")[0].lower()
            if ALIASES.get(code, code) == lang:
                lemmas += [e.get("writtenForm") for e in lexicon.iter("Lemma") if e.get("writtenForm")]
        return list(dict.fromkeys(lemmas))
    lemmas = []
    for line in text.splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 3 or not re.fullmatch(r"[a-z]{2,3}:lemma", parts[1]):
            continue
        lemmas.append(parts[2].strip().replace("_", " "))
    return list(dict.fromkeys(w for w in lemmas if w))

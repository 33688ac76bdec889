"""Matching alt-texts against metadata entries: the matcher (``matcher``: MetaCLIP's rule,
with the compiled kernel of ``fastmatch*``), the named variants, the spacing of texts, the
per-node index cache, language routing and the reading of metadata lists."""

from curation.matching.matcher import AhoCorasickMatcher, Matcher, MetadataMatcher

__all__ = ["AhoCorasickMatcher", "Matcher", "MetadataMatcher"]

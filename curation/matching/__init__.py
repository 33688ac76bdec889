"""Matching alt-texts against metadata entries: the matcher (``matcher``: MetaCLIP's rule,
with the compiled kernel of ``fastmatch*``), the named variants, the spacing of texts, the
per-node index cache, language routing and the reading of metadata lists.

``curation.matching.Matcher`` (DESIGN's public name) is ``matcher.Matcher``, loaded when first
asked for: the kernel's compiler (numba) stays out of commands that never match."""

_PUBLIC = ("AhoCorasickMatcher", "Matcher", "MetadataMatcher")
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        from curation.matching import matcher

        return getattr(matcher, name)
    raise AttributeError(f"module 'curation.matching' has no attribute {name!r}")

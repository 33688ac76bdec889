"""Alt-text quality: a score in [0, 1] per text from heuristic filters, weighted per language.

After "Text Quality-Based Pruning for Efficient Training of Language Models" (arXiv
2405.01582): each filter (``curation.quality.filters``) passes or fails a text; a filter's
weight is the relative drop in a reference language model's perplexity when the texts that
fail it are removed (``curation.quality.fit``); a text's score is the weighted share of the
filters it passes (``curation.quality.score``). Weights ship per language in ``weights/``
with their provenance in ``weights/manifest.json``.
"""

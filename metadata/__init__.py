"""Metadata tooling: read sources (WordNet, n-gram counts, page views), build, version
and compare the entry lists that curation balances over."""

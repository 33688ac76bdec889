"""Ingest: CommonCrawl WARC/WAT files (or url+caption tables) to pool shards."""

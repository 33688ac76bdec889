"""The curation chain: pool shards (``pool``), the row stages (``stages``: match, the filter
stages, balance), counting and balancing, the per-image unit (``imageunit``, ``choice``), and
the commands that run them on an executor (``run``)."""

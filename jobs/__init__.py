"""Spark entry points. Each module has a thin ``main(argv)`` usable with ``spark-submit``;
the algorithms live in ``curation``."""

"""MetaCLIP-style curation of image/alt-text pools: matching, counting, balancing.

This package is the library. It never imports pyspark: the Spark entry points in
``jobs/`` map these functions over shards.
"""

__version__ = "0.1.0"

"""Where each stage puts its outputs under a run folder, and the per-shard done markers.

    <out>/matched/<shard>.parquet            matched rows (pool row + entry_ids)
    <out>/matched/_counts/<shard>.parquet    sparse per-shard entry counts
    <out>/matched/_rejected/<shard>.parquet  rejected rows with their reasons
    <out>/matched/_done/<shard>.json         done marker: shard stats and parameters
    <out>/entry_counts.parquet|.json         pool-wide counts
    <out>/_chain.json                        the row-stage folders of the run (match, filters)
    <out>/<filter>/<shard>.parquet           rows a filter stage keeps (between match and count;
                                             --min-quality's is min_quality/)
    <out>/<filter>/_dropped/<shard>.parquet  rows it drops, with their reason
    <out>/curated/<shard>.parquet            kept rows
    <out>/curated/_counts/<shard>.parquet    kept rows per entry
    <out>/curated/_done/<shard>.json
    <out>/curated_entry_counts.parquet       kept rows per entry, pool-wide
    <out>/datacard.json
    <out>/report.html, <out>/report/*.png    the data card as a report
"""

from curation.core.io import join

MATCHED = "matched"
CURATED = "curated"
ENTRY_COUNTS = "entry_counts.parquet"
ENTRY_COUNTS_JSON = "entry_counts.json"
CURATED_COUNTS = "curated_entry_counts.parquet"
DATACARD = "datacard.json"
REPORT = "report.html"
REPORT_DIR = "report"


def shard_name(index: int) -> str:
    """Stable shard names: ``00000``, ``00001``, ..."""
    return f"{index:05d}"


def data_url(stage_dir: str, name: str) -> str:
    return join(stage_dir, f"{name}.parquet")


def counts_url(stage_dir: str, name: str) -> str:
    return join(stage_dir, "_counts", f"{name}.parquet")


def rejected_url(stage_dir: str, name: str) -> str:
    return join(stage_dir, "_rejected", f"{name}.parquet")


def done_url(stage_dir: str, name: str) -> str:
    return join(stage_dir, "_done", f"{name}.json")


def dropped_url(stage_dir: str, name: str) -> str:
    return join(stage_dir, "_dropped", f"{name}.parquet")


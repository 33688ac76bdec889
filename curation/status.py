"""``curate status``: what a run folder holds, read from its manifests and done markers."""

from curation import layout
from curation.io import exists, join, list_files, read_json

MANIFEST = "_manifest.json"
SHOW_MISSING = 20


def stage_status(stage_dir: str) -> dict:
    """Shards done/total, rows so far and the first missing shards of one stage."""
    manifest_url = join(stage_dir, MANIFEST)
    if not exists(manifest_url):
        return {"started": False}
    manifest = read_json(manifest_url)
    total = manifest.get("shards", 0)
    done_dir = join(stage_dir, "_done")
    markers = list_files(done_dir, (".json",)) if exists(done_dir) else []
    done = {url.rsplit("/", 1)[-1][:-5] for url in markers}
    rows_key = "pool_rows" if stage_dir.rstrip("/").endswith(layout.MATCHED) else "matched_rows"
    rows = sum(read_json(url).get(rows_key, 0) for url in markers)
    missing = [layout.shard_name(i) for i in range(total) if layout.shard_name(i) not in done]
    return {"started": True, "shards_done": len(done), "shards_total": total, "rows_done": rows,
            "complete": not missing, "missing": missing[:SHOW_MISSING], "missing_count": len(missing),
            "params": manifest.get("params", {})}


def run_status(out: str) -> dict:
    """Status of every stage of the run folder ``out``."""
    return {
        "out": out,
        "match": stage_status(join(out, layout.MATCHED)),
        "count": {"complete": exists(join(out, layout.ENTRY_COUNTS))},
        "balance": stage_status(join(out, layout.CURATED)),
        "datacard": exists(join(out, layout.DATACARD)),
        "report": exists(join(out, layout.REPORT)),
    }

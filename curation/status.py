"""``curate status``: what a folder holds, stage by stage, read from the stages' manifests
and done markers. A run folder shows its curation chain (match, filters, balance); a pool
folder its ingest; an export or embeddings folder that stage. Every stage of the stage
table is looked for, under its own folder name or as the folder itself."""

from curation import layout
from curation.io import exists, join, read_json
from curation.shards import MANIFEST, done_names

SHOW_MISSING = 20


def stage_status(stage_dir: str, rows_key: str) -> dict:
    """Shards done/total, rows so far and the first missing shards of one stage folder."""
    manifest_url = join(stage_dir, MANIFEST)
    if not exists(manifest_url):
        return {"started": False}
    manifest = read_json(manifest_url)
    total = manifest.get("shards", 0)
    total = len(total) if isinstance(total, list) else total
    done = set(done_names(stage_dir))
    rows = sum(read_json(layout.done_url(stage_dir, name)).get(rows_key, 0) for name in done)
    missing = [layout.shard_name(i) for i in range(total) if layout.shard_name(i) not in done]
    return {"started": True, "shards_done": len(done), "shards_total": total, "rows_done": rows,
            "complete": not missing, "missing": missing[:SHOW_MISSING], "missing_count": len(missing),
            "params": manifest.get("params", {})}


def _own_stage(out: str) -> str | None:
    url = join(out, MANIFEST)
    return read_json(url).get("stage") if exists(url) else None


def run_status(out: str) -> dict:
    """Status of every stage found in ``out``, in stage-table order, plus the run outputs."""
    from curation.pipeline import STAGES

    own = _own_stage(out)
    status: dict = {"out": out}
    for stage in STAGES:
        if stage.folder and exists(join(out, stage.folder, MANIFEST)):
            status[stage.name] = stage_status(join(out, stage.folder), stage.rows_key)
        elif own == stage.name:
            status[stage.name] = stage_status(out, stage.rows_key)
    if exists(join(out, layout.MATCHED)):
        status["count"] = {"complete": exists(join(out, layout.ENTRY_COUNTS))}
        status["datacard"] = exists(join(out, layout.DATACARD))
        status["report"] = exists(join(out, layout.REPORT))
    return status

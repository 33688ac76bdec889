"""``curate status``: what a folder holds, stage by stage, read from the stages' manifests
and done markers. A run folder shows its curation chain (match, filters, balance); a pool
folder its ingest; an export or embeddings folder that stage. Every registered stage is
looked for, under its own folder name or as the folder itself."""

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import exists, is_dir, join, read_json
from curation.core.shards import MANIFEST, done_names, verify_outputs

SHOW_MISSING = 20


def stage_status(stage_dir: str, rows_key: str, verify: bool = False) -> dict:
    """Shards done/total, rows so far, the first missing shards of one stage folder, and the
    done shards whose outputs are damaged (missing or another size; with ``verify``, also
    another checksum): those are redone by the next run."""
    manifest_url = join(stage_dir, MANIFEST)
    if not exists(manifest_url):
        return {"started": False}
    manifest = read_json(manifest_url)
    total = manifest.get("shards", 0)
    # Most stages number their shards; one named after its inputs lists the names.
    names = manifest.get("shard_names") or [layout.shard_name(i) for i in range(
        len(total) if isinstance(total, list) else total)]
    total = len(names)
    done, rows, damaged = set(), 0, {}
    for name in done_names(stage_dir):
        try:
            stats = read_json(layout.done_url(stage_dir, name))
        except InputError as exc:
            damaged[name] = [str(exc)]
            continue
        bad = verify_outputs(stage_dir, stats, checksums=verify)
        if bad:
            damaged[name] = bad
            continue
        done.add(name)
        rows += stats.get(rows_key, 0)
    missing = [name for name in names if name not in done]
    return {"started": True, "shards_done": len(done), "shards_total": total, "rows_done": rows,
            "complete": not missing, "missing": missing[:SHOW_MISSING], "missing_count": len(missing),
            "damaged": dict(sorted(damaged.items())[:SHOW_MISSING]), "damaged_count": len(damaged),
            "params": manifest.get("params", {})}


def _own_stage(out: str) -> str | None:
    url = join(out, MANIFEST)
    return read_json(url).get("stage") if exists(url) else None


def run_status(out: str, verify: bool = False) -> dict:
    """Status of every stage found in ``out``, in chain order (``curation.registry``), plus the run outputs."""
    from curation.registry import REGISTRY

    if not is_dir(out):
        raise InputError(f"{out}: no such folder")
    own = _own_stage(out)
    status: dict = {"out": out}
    for stage in REGISTRY.chain():
        if stage.folder and exists(join(out, stage.folder, MANIFEST)):
            status[stage.name] = stage_status(join(out, stage.folder), stage.rows_key, verify)
        elif own == stage.name:
            status[stage.name] = stage_status(out, stage.rows_key, verify)
    if exists(join(out, layout.MATCHED)):
        status["count"] = {"complete": exists(join(out, layout.ENTRY_COUNTS))}
        status["datacard"] = exists(join(out, layout.DATACARD))
        status["report"] = exists(join(out, layout.REPORT))
    return status

"""`curate caption` (a CoCa caption per curated image, one task per curated shard; a GPU per
task where Spark schedules them, the driver's process on the local executor) and
`curate captions import`. The work is ``curation.gpu.caption``'s."""

import json
import sys

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import (
    check_output_folder,
    exists,
    join,
    read_json,
    read_parquet,
    remove,
    write_json_atomic,
    write_parquet_atomic,
)
from curation.core.runner import drive
from curation.export.finish import export_source

IMPORTED = "_imported.parquet"


def _finish(out: str, run: str | None, stats: list[dict], extra: dict) -> dict:
    """``_caption_stats.json``, and the run's data card lists the captions (the report shows examples)."""
    failed: dict = {}
    for s in stats:
        for status, n in s["failed"].items():
            failed[status] = failed.get(status, 0) + n
    summary = {"shards": len(stats), "rows": sum(s["rows"] for s in stats),
               "captioned": sum(s["captioned"] for s in stats), "failed": failed, **extra}
    write_json_atomic(join(out, "_caption_stats.json"), summary)
    if run is not None and exists(join(run, layout.DATACARD)):
        card = read_json(join(run, layout.DATACARD))
        card.setdefault("captions", {})[out] = summary
        write_json_atomic(join(run, layout.DATACARD), card)
    return summary


def _check_model(name: str, pretrained: str | None) -> None:
    """Refuse an unknown model name or a missing checkpoint file on the driver, before any task."""
    import os

    import open_clip

    from curation.gpu.models import register_configs

    register_configs()
    if name not in open_clip.list_models():
        raise InputError(f"--model {name!r}: not an open_clip model nor one of ours (coca-tiny, ...)")
    if pretrained and "://" not in pretrained and (os.sep in pretrained or "." in pretrained) \
            and not os.path.isfile(pretrained):
        raise InputError(f"--pretrained {pretrained}: no such checkpoint file")


def caption_command(cfg: dict, executor) -> int:
    from curation.core.config import lineage
    from curation.gpu.caption import CaptionStage

    c = cfg["caption"]
    check_output_folder(c.out, curated=c.curated)
    source, run = export_source(c.curated, False)
    _check_model(c.model, c.pretrained)
    stage = CaptionStage(c.out, lineage(c), source, cfg["fetch"], c.batch_size, executor.storage)
    stats = drive(executor, stage, overwrite=c.overwrite, info={"curated": source}).stats
    from importlib.metadata import version

    summary = _finish(c.out, run, stats, {"model": c.model, "pretrained": c.pretrained, "prompt": c.prompt,
                                          "open_clip_version": version("open_clip_torch")})
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def import_command(cfg: dict, executor) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    from curation.core.config import lineage
    from curation.gpu.caption import CaptionsImportStage, read_imported

    c = cfg["import"]
    check_output_folder(c.out, curated=c.curated)
    source, run = export_source(c.curated, False)
    if c.overwrite:
        remove(c.out)
    imported, dropped = read_imported(c.input, c.key_column, c.caption_column)
    if imported.num_rows == 0:
        raise InputError(f"{c.input}: no captions")
    write_parquet_atomic(join(c.out, IMPORTED), imported)
    stage = CaptionsImportStage(c.out, {**lineage(c), "text_column": "text"}, source, join(c.out, IMPORTED))
    stats = drive(executor, stage, info={"curated": source}).stats
    curated_keys = pa.concat_arrays([read_parquet(s.source, columns=["key"])["key"].cast(pa.string())
                                     .combine_chunks() for s in stage.plan()])
    unknown = imported.filter(pc.invert(pc.is_in(imported["key"], value_set=curated_keys)))["key"]
    summary = _finish(c.out, run, stats, {"model": None, "source": c.input, "imported": imported.num_rows,
                                          "input_rows_left_out": dropped,
                                          "unknown_keys": len(unknown),
                                          "unknown_key_examples": unknown.slice(0, 10).to_pylist()})
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0

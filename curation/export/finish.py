"""The run-level files of an export: ``sizes.json``, ``export_stats.json``, the funnel in the
run's data card and, online, ``probabilities.npy``; and where an export reads from."""


from collections import Counter

import numpy as np

from curation.chain.balancing import segment_probabilities
from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import exists, join, npy_bytes, read_json, read_parquet, write_json_atomic
from curation.core.shards import MANIFEST

SIZES = "sizes.json"


def run_folder(folder: str) -> str | None:
    """The run folder ``folder`` belongs to (itself, or the parent of its ``curated/``)."""
    if exists(join(folder, layout.MATCHED, MANIFEST)):
        return folder
    parent = folder.rstrip("/").rsplit("/", 1)[0]
    return parent if exists(join(parent, layout.MATCHED, MANIFEST)) else None


def export_source(curated: str, online: bool) -> tuple[str, str | None]:
    """(folder of the shards to export, run folder): ``curated/`` of a run (or the folder
    itself), or the run's ``matched/`` for an online export."""
    run = run_folder(curated)
    if online:
        if run is None:
            raise InputError(f"{curated}: --online needs a run folder (with matched/ and entry_counts.parquet)")
        return join(run, layout.MATCHED), run
    return (join(curated, layout.CURATED) if exists(join(curated, layout.CURATED)) else curated), run


def run_entries(run: str | None) -> list[str]:
    """The metadata entries of a run (none when the export has no run folder)."""
    from curation.matching.metadata_io import load_metadata

    return load_metadata(read_json(join(run, layout.MATCHED, MANIFEST))["metadata"]).entries if run else []


def run_probabilities(run: str) -> np.ndarray:
    """Per-entry ``p`` of a run, exactly as balancing computed it: the entry counts with
    each language's t from the data card."""
    counts, segments, thresholds = run_segments(run)
    return segment_probabilities(counts, segments, thresholds)


def run_segments(run: str, table=None) -> tuple[np.ndarray, dict, dict]:
    """A run's entry counts, its id segments by language and each language's t (one
    segment for a single list); ``table``: its ``entry_counts.parquet`` when already read."""
    card = read_json(join(run, layout.DATACARD))
    table = table if table is not None else read_parquet(join(run, layout.ENTRY_COUNTS))
    counts = table["count"].to_numpy()
    if "lang" in table.column_names and card.get("languages"):
        langs = table["lang"].to_pylist()
        segments: dict = {}
        for i, lang in enumerate(langs):
            start, _ = segments.get(lang, (i, i))
            segments[lang] = (start, i + 1)
        thresholds = {row["lang"]: row["t"] for row in card["languages"]}
    else:
        from curation.matching.metadata_io import SINGLE

        segments, thresholds = {SINGLE: (0, len(counts))}, {SINGLE: card["t"]}
    return counts, segments, thresholds


def status_tables(export: str) -> list[str]:
    """The per-tar status tables of an export (``NNNNN.parquet``), in tar order."""
    from curation.core.io import list_files

    return [u for u in list_files(export, (".parquet",)) if u.rsplit("/", 1)[-1][:5].isdigit()]


def run_entry_table(run: str):
    """A run's ``entry_counts.parquet`` (entry, count, lang) and each entry's t, read once."""
    for name in (layout.ENTRY_COUNTS, layout.DATACARD):
        if not exists(join(run, name)):
            raise InputError(f"{run}: no {name} (give the folder of a finished `curate curate` run)")
    table = read_parquet(join(run, layout.ENTRY_COUNTS))
    counts, segments, thresholds = run_segments(run, table)
    t = np.zeros(len(counts), np.float64)
    for lang, (start, end) in segments.items():
        t[start:end] = thresholds[lang]
    return table, t


def finish_export(out: str, stats: list[dict], run: str | None, online: bool, seconds: float,
                  policy: dict | None = None) -> dict:
    """Write ``sizes.json``, ``export_stats.json`` and, online, ``probabilities.npy`` and the
    run's data card; return the summary."""
    sizes = write_sizes(out, stats)
    if online:
        write_probabilities(out, run_probabilities(run))
        write_json_atomic(join(out, layout.DATACARD), read_json(join(run, layout.DATACARD)))
    failed = dict(sum((Counter(s["failed"]) for s in stats), Counter()))
    given, written = sum(s["given"] for s in stats), sum(sizes.values())
    summary = {"tars": len(sizes), "samples": written, "given": given, "failed": failed,
               "retryable": sum(s.get("retryable", 0) for s in stats), "funnel": funnel(failed, given, written),
               "seconds": round(seconds, 2), **({"policy": policy} if policy else {})}
    as_text = sorted({c for s in stats for c in s.get("columns_as_text", [])})
    if as_text:
        summary["columns_as_text"] = as_text  # pass-through columns whose type differed between shards
    if any("with_caption" in s for s in stats):
        with_caption = sum(s.get("with_caption", 0) for s in stats)
        summary["captions"] = {"with_caption": with_caption, "without_caption": written - with_caption}
    if run is not None and exists(join(run, layout.DATACARD)):
        # The run's data card shows the funnel of its exports (and the report with it).
        card = read_json(join(run, layout.DATACARD))
        summary["funnel"] = {"matched": card.get("matched_rows"), **summary["funnel"]}
        card.setdefault("exports", {})[out] = {"online": online, "funnel": summary["funnel"],
                                               **({"columns_as_text": as_text} if as_text else {})}
        write_json_atomic(join(run, layout.DATACARD), card)
    write_json_atomic(join(out, "export_stats.json"), summary)
    return summary


FUNNEL_FETCH_FAILURES = ("failed_to_download", "too_large", "refused", "host_unavailable", "deadline", "no_image")


FUNNEL_FILTERED = ("removed_by_keep_list", "decode_error", "image_too_large", "filtered")


def funnel(failed: dict, given: int, written: int) -> dict:
    """curated (given to export) -> opted out -> fetched -> filtered -> written (with a run
    folder, ``finish_export`` puts the run's matched rows in front)."""
    opted_out = failed.get("opted_out", 0)
    not_fetched = sum(failed.get(s, 0) for s in FUNNEL_FETCH_FAILURES)
    filtered = sum(failed.get(s, 0) for s in FUNNEL_FILTERED)
    return {"curated": given, "opted_out": opted_out, "fetch_failed": not_fetched,
            "fetched": given - opted_out - not_fetched, "filtered": filtered, "written": written}


def write_sizes(out: str, stats: list[dict]) -> dict:
    sizes = {s["tar"]: s["samples"] for s in sorted(stats, key=lambda s: s["tar"])}
    write_json_atomic(join(out, SIZES), sizes)
    return sizes


def write_probabilities(out: str, p: np.ndarray) -> None:
    """``probabilities.npy`` in float64: the exact p of balancing, so that epoch 0 of online
    balancing is the offline subset itself."""
    from curation.core.io import write_bytes_atomic
    from curation.export.online import PROBABILITIES

    write_bytes_atomic(join(out, PROBABILITIES), npy_bytes(np.asarray(p, dtype=np.float64)))

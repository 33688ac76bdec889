"""The facts of a training-content summary, read from a pipeline's own records: an export's
status tables (one per tar: domain, bytes, status, opt-out rule, faces, caption), or without
an export the run's curated shards (urls only); ingest's collection period; caption stats.

The per-file passes run on the executor (one task per status table or curated shard) and
return small counters; the driver adds them up."""

from collections import Counter
from functools import partial

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import exists, join, list_files, read_json, read_parquet

STATUS_COLUMNS = ("status", "error_message", "domain", "bytes", "text_words", "lang", "fetched_at", "faces",
                  "caption")


def status_counts(url: str) -> dict:
    """One tar's status table as counters: per domain bytes and samples written, outcomes by
    status and reason, languages, words, faces, captions, the fetch-time range."""
    table = read_parquet(url)
    missing = [c for c in STATUS_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"{url}: no {', '.join(missing)} column (an export from before `curate summary`; "
                         f"export again)")
    rows = table.select(list(STATUS_COLUMNS)).to_pylist()
    out = {"domain_bytes": Counter(), "domain_samples": Counter(), "statuses": Counter(), "opted_out": Counter(),
           "filtered": Counter(), "langs": Counter(), "given": len(rows), "written": 0, "bytes": 0, "words": 0,
           "faces": 0, "samples_with_faces": 0, "captions": 0, "fetched_at": []}
    for r in rows:
        out["statuses"][r["status"]] += 1
        if r["status"] == "opted_out":
            out["opted_out"][r["error_message"] or ""] += 1
        elif r["status"] == "filtered":
            out["filtered"][r["error_message"] or ""] += 1
        if r["fetched_at"]:
            out["fetched_at"].append(r["fetched_at"])
        if r["status"] != "success":
            continue
        out["written"] += 1
        out["bytes"] += r["bytes"] or 0
        out["words"] += r["text_words"] or 0
        out["langs"][r["lang"] or ""] += 1
        out["faces"] += r["faces"] or 0
        out["samples_with_faces"] += bool(r["faces"])
        out["captions"] += bool(r["caption"])
        if r["domain"]:
            out["domain_bytes"][r["domain"]] += r["bytes"] or 0
            out["domain_samples"][r["domain"]] += 1
    span = sorted(out.pop("fetched_at"))
    out["fetch_period"] = (span[0], span[-1]) if span else None
    return out


def curated_counts(url: str, text_column: str) -> dict:
    """One curated shard, without an export: per domain samples, languages and words."""
    from urllib.parse import urlsplit

    table = read_parquet(url)
    n = table.num_rows
    urls = table["url"].to_pylist() if "url" in table.column_names else [None] * n
    texts = table[text_column].to_pylist() if text_column in table.column_names else [None] * n
    langs = table["lang"].to_pylist() if "lang" in table.column_names else [None] * n
    out = {"domain_bytes": Counter(), "domain_samples": Counter(), "langs": Counter(), "written": n, "words": 0,
           "bytes": None}
    for u, text, lang in zip(urls, texts, langs):
        try:
            host = urlsplit(u).hostname if isinstance(u, str) and "://" in u else None
        except ValueError:
            host = None
        if host:
            out["domain_samples"][host] += 1
        out["langs"][lang if isinstance(lang, str) else ""] += 1
        out["words"] += len(text.split()) if isinstance(text, str) else 0
    return out


def added(parts: list[dict]) -> dict:
    """Counters and numbers added up over the per-file results; periods widened."""
    total: dict = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, Counter):
                total.setdefault(key, Counter()).update(value)
            elif key == "fetch_period":
                if value:
                    old = total.get(key)
                    total[key] = (min(old[0], value[0]), max(old[1], value[1])) if old else value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
            elif value is None:
                total.setdefault(key, None)
    return total


def export_facts(executor, export: str) -> dict:
    """The summed status tables of an export, and its ``export_stats.json`` (fetch policy)."""
    from curation.export.finish import status_tables

    urls = status_tables(export)
    if not urls:
        raise InputError(f"{export}: no status tables (NNNNN.parquet; run `curate export` first)")
    facts = added(executor.map(status_counts, urls, "summary: status tables"))
    stats_url = join(export, "export_stats.json")
    facts["policy"] = read_json(stats_url).get("policy", {}) if exists(stats_url) else {}
    facts["tars"] = len(urls)
    return facts


def run_facts(executor, run: str) -> dict:
    """Without an export: the curated shards' domains (by samples), languages and words."""
    card = read_json(join(run, layout.DATACARD))
    urls = list_files(join(run, layout.CURATED), (".parquet",))
    parts = executor.map(partial(curated_counts, text_column=card.get("text_column", "text")), urls,
                         "summary: curated shards")
    return added(parts) if parts else {"written": 0, "words": 0, "domain_samples": Counter(), "langs": Counter()}


def run_card(run: str) -> dict:
    """The run's data card, and its metadata list (path, sha256, entries) from the match manifest."""
    from curation.core.shards import MANIFEST

    if not exists(join(run, layout.DATACARD)):
        raise InputError(f"{run}: no {layout.DATACARD} (--run takes the folder of a finished `curate curate` run)")
    card = read_json(join(run, layout.DATACARD))
    manifest_url = join(run, layout.MATCHED, MANIFEST)
    manifest = read_json(manifest_url) if exists(manifest_url) else {}
    card["_metadata"] = {"path": manifest.get("metadata"), "sha256": card.get("metadata_sha256"),
                         "entries": card.get("entries")}
    return card


def caption_facts(folders: list[str]) -> list[dict]:
    """Each captions folder's ``_caption_stats.json``: model, checkpoint, count."""
    out = []
    for folder in folders:
        url = join(folder, "_caption_stats.json")
        if not exists(url):
            raise InputError(f"{folder}: no _caption_stats.json (run `curate caption` or `curate captions import`)")
        stats = read_json(url)
        out.append({"folder": folder, "model": stats.get("model"), "pretrained": stats.get("pretrained"),
                    "open_clip_version": stats.get("open_clip_version"), "source": stats.get("source"),
                    "captions": stats.get("captioned", stats.get("imported", 0))})
    return out


def ingest_facts(folder: str) -> dict:
    url = join(folder, "ingest_stats.json")
    if not exists(url):
        raise InputError(f"{folder}: no ingest_stats.json (run `curate ingest` first)")
    stats = read_json(url)
    return {"files": stats.get("files"), "pairs": stats.get("pairs_after_dedup"),
            "collection_period": stats.get("collection_period") or {"first": None, "last": None}}

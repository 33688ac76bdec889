"""Pool-wide results: the entry counts file and the data card."""

import json
from collections import Counter

import numpy as np
import pyarrow as pa

from curation.chain.balancing import tail_proportion
from curation.chain.counting import add_histograms
from curation.core.errors import LineageError
from curation.core.io import read_parquet, write_bytes_atomic, write_json_atomic, write_parquet_atomic
from curation.core.lineage import code_version

TOP_ENTRIES = 20
_STAT_KEYS = ("pool_rows", "matched_rows", "unmatched_rows", "rejected_rows", "matches")


def write_entry_counts(parquet_url: str, json_url: str, metadata, counts: np.ndarray, params: dict) -> None:
    """Write ``entry_counts.parquet`` (entry_id, entry, count, and lang for per-language
    metadata; params in the schema metadata) and MetaCLIP's ``entry_counts.json``
    ({entry: count}; per-language: {lang: {entry: count}})."""
    entries = metadata.entries
    columns = {"entry_id": pa.array(np.arange(len(entries)), pa.int32()), "entry": pa.array(entries, pa.string()),
               "count": pa.array(counts, pa.int64())}
    if metadata.per_language:
        columns["lang"] = pa.array(metadata.entry_langs(), pa.string())
        as_dict = {lang: dict(zip(entries[s:e], counts[s:e].tolist())) for lang, (s, e) in metadata.segments.items()}
    else:
        as_dict = dict(zip(entries, counts.tolist()))
    table = pa.table(columns).replace_schema_metadata({"curation": json.dumps(params, sort_keys=True)})
    write_parquet_atomic(parquet_url, table)
    write_bytes_atomic(json_url, json.dumps(as_dict, ensure_ascii=False).encode())


def read_entry_counts(url: str, expect: dict) -> np.ndarray:
    """Read the counts vector; refuse counts made with other parameters than ``expect``."""
    table = read_parquet(url)
    meta = table.schema.metadata or {}
    params = json.loads(meta.get(b"curation", b"{}"))
    for key, value in expect.items():
        if params.get(key) != value:
            raise LineageError(f"{url}: made with {key}={params.get(key)!r}, this run has {value!r}")
    return table["count"].to_numpy().astype(np.int64)


def sum_stats(shard_stats: list[dict]) -> dict:
    """Add up per-shard match stats (rows, rejects by reason, matches-per-text histogram)."""
    total = {key: sum(s[key] for s in shard_stats) for key in _STAT_KEYS}
    reasons: dict[str, int] = {}
    hist: list[int] = []
    for s in shard_stats:
        for reason, n in s["rejected_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
        hist = add_histograms(hist, s["matches_per_text"])
    out = {**total, "rejected_reasons": reasons, "matches_per_text": hist}
    return out


def threshold_vector(metadata, thresholds: dict) -> np.ndarray:
    """Each entry's t (its language's, for per-language metadata)."""
    t = np.zeros(len(metadata), dtype=np.float64)
    for lang, (start, end) in metadata.segments.items():
        t[start:end] = thresholds[lang]
    return t


def build_datacard(*, metadata, thresholds: dict, counts: np.ndarray, kept_counts: np.ndarray,
                   match_stats: list[dict], curated_rows: int, params: dict, timings: dict,
                   sources: list[tuple[str, int, int]] = (), filter_stats: dict | None = None,
                   balance_stats: list[dict] = ()) -> dict:
    """The data card: what went in, what came out, and how balancing changed the counts.

    Every pool row is accounted for: ``pool_rows = matched + unmatched + rejected``, and with
    filter stages ``matched_rows = dropped_rows + balance_input_rows`` (drops by named reason;
    ``--min-quality``'s are ``low_quality_rows``)."""
    entries, t = metadata.entries, threshold_vector(metadata, thresholds)
    stats = sum_stats(match_stats)
    total = counts.sum()
    card = {
        **params,
        **stats,
        "curated_rows": int(curated_rows),
        "entries": len(entries),
        "entries_matched": int((counts > 0).sum()),
        "entries_above_t": int((counts > t).sum()),
        "tail_proportion": float(counts[counts < t].sum() / total) if total else 0.0,
        "expected_curated_matches": int(np.minimum(counts, t).sum()),
        "top_entries": top_entries(entries, counts, kept_counts, t),
        "inputs": [{"shard": s["shard"], "source": s["source"], "pool_rows": s["pool_rows"]} for s in match_stats],
        "code_version": code_version(),
        "timings_s": timings,
    }
    if filter_stats:
        card.update(filter_rows(filter_stats, stats["matched_rows"]))
        card.update(quality_rows(filter_stats, params))
    if params.get("unit") == "image":
        # Alt-texts (rows) and images at balancing: each curated row is one image.
        card["balance_input_images"] = sum(s.get("chosen_rows", 0) for s in balance_stats)
        card["curated_images"] = int(curated_rows)
    if metadata.per_language:
        card["languages"] = language_rows(metadata, thresholds, counts, kept_counts, match_stats)
        unrouted = sum((Counter(s.get("unrouted_langs", {})) for s in match_stats), Counter())
        card["unrouted_langs"] = dict(sorted(unrouted.items(), key=lambda kv: (-kv[1], kv[0])))
    if sources:
        card["sources"] = source_rows(sources, counts, kept_counts)
    if metadata.blank_entries:
        card["metadata_blank_entries"] = metadata.blank_entries[:100]
    if metadata.duplicates:
        card["metadata_duplicates"] = {"entries": len(metadata.duplicates),
                                       "examples": sorted(metadata.duplicates)[:10]}
    return card


def filter_rows(filter_stats: dict, matched_rows: int) -> dict:
    """Per filter stage: rows in, rows dropped by reason; and the rows left for balancing."""
    filters, dropped, reasons = [], 0, Counter()
    for name, shard_stats in filter_stats.items():
        stage_reasons = sum((Counter(s["dropped_reasons"]) for s in shard_stats), Counter())
        stage_dropped = sum(s["dropped_rows"] for s in shard_stats)
        filters.append({"stage": name, "input_rows": sum(s["input_rows"] for s in shard_stats),
                        "dropped_rows": stage_dropped, "dropped_reasons": dict(sorted(stage_reasons.items()))})
        dropped += stage_dropped
        reasons.update(stage_reasons)
    return {"filters": filters, "dropped_rows": dropped, "dropped_reasons": dict(sorted(reasons.items())),
            "balance_input_rows": matched_rows - dropped}


def quality_rows(filter_stats: dict, params: dict) -> dict:
    """``--min-quality``'s threshold, its dropped rows and the score histograms by language."""
    from curation.quality.min_quality import MinQualityFilter
    from curation.quality.score import add_histograms_by_lang

    shard_stats = filter_stats.get(MinQualityFilter.name)
    if shard_stats is None:
        return {}
    quality: dict = {}
    for s in shard_stats:
        add_histograms_by_lang(quality, s.get("quality_histograms", {}))
    return {"min_quality": params[MinQualityFilter.name]["min_quality"],
            "low_quality_rows": sum(s["dropped_rows"] for s in shard_stats),
            "quality_histograms": dict(sorted(quality.items()))}


def source_rows(sources, counts: np.ndarray, kept: np.ndarray) -> list[dict]:
    """Per metadata source (id ranges): entries, entries matched, matches before and after."""
    return [{"source": name, "entries": end - start, "entries_matched": int((counts[start:end] > 0).sum()),
             "matches": int(counts[start:end].sum()), "curated_matches": int(kept[start:end].sum())}
            for name, start, end in sources]


def language_rows(metadata, thresholds: dict, counts: np.ndarray, kept: np.ndarray, match_stats: list[dict]):
    """Per-language breakdown: texts routed to each list, matches, t and tail proportion."""
    rows, matched = Counter(), Counter()
    for s in match_stats:
        rows.update(s.get("rows_per_list", {}))
        matched.update(s.get("matched_per_list", {}))
    return [{"lang": lang, "t": thresholds[lang], "entries": end - start,
             "entries_matched": int((counts[start:end] > 0).sum()),
             "texts": rows[lang], "matched_texts": matched[lang],
             "tail_proportion": tail_proportion(counts[start:end], thresholds[lang]),
             "matches": int(counts[start:end].sum()), "curated_matches": int(kept[start:end].sum())}
            for lang, (start, end) in metadata.segments.items()]


def top_entries(entries: list[str], counts: np.ndarray, kept_counts: np.ndarray, t: np.ndarray,
                n: int = TOP_ENTRIES):
    """The ``n`` entries with the most matches: count before, expected after, actual after."""
    order = np.lexsort((np.arange(len(counts)), -counts))[:n]
    return [{"entry_id": int(i), "entry": entries[i], "count": int(counts[i]),
             "expected_after": float(min(counts[i], t[i])), "curated": int(kept_counts[i])}
            for i in order if counts[i] > 0]


def write_datacard(url: str, card: dict) -> None:
    write_json_atomic(url, card)


def metadata_sources(metadata) -> list[tuple[str, int, int]]:
    """Id ranges per source, from the manifest beside a built list (none for other lists)."""
    import logging

    from curation.core.io import exists, read_json
    from curation.matching.metadata_io import manifest_url, source_ranges

    url = manifest_url(metadata.source)
    if metadata.per_language or not exists(url):
        return []
    manifest = read_json(url)
    if manifest.get("sha256") != metadata.sha256:
        logging.getLogger("curate").warning("%s does not describe %s (sha256 differs); no per-source breakdown",
                                            url, metadata.source)
        return []
    return source_ranges(manifest.get("per_source", {}))


def print_summary(card: dict, out: str, stream) -> None:
    """A short human summary of a data card."""
    lines = [
        f"pool rows      {card['pool_rows']:>10,}",
        f"  matched      {card['matched_rows']:>10,}",
        f"  unmatched    {card['unmatched_rows']:>10,}",
        f"  rejected     {card['rejected_rows']:>10,}",
    ]
    if card.get("filters"):
        lines.append(f"  dropped      {card['dropped_rows']:>10,}  "
                     + ", ".join(f"{r} {n}" for r, n in card["dropped_reasons"].items()))
    if "low_quality_rows" in card:
        lines.append(f"    low quality {card['low_quality_rows']:>9,}  (quality < {card['min_quality']:g})")
    if "balance_input_images" in card:
        lines.append(f"  images      {card['balance_input_images']:>10,}  (one alt-text chosen per image)")
    lines += [
        f"curated rows   {card['curated_rows']:>10,}  (t={card['t']:g}, seed={card['seed']}, "
        f"per {card.get('unit', 'text')})",
        f"entries        {card['entries_matched']:,} of {card['entries']:,} matched, "
        f"{card['entries_above_t']:,} above t, tail proportion {card['tail_proportion']:.3f}",
        "top entries    " + ", ".join(f"{e['entry']!r} {e['count']}->{e['curated']}" for e in card["top_entries"][:5]),
        f"outputs        {out}",
    ]
    stream.write("\n".join(lines) + "\n")

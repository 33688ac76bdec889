"""``report.html``: the data card as plots and tables a curator can look at.

Self-contained: one HTML file with no script and no network, and its PNG figures in
``report/`` beside it. Every number in its tables is read from ``datacard.json``.
"""

import html

import numpy as np

from curation.core import layout
from curation.core.io import exists, join, list_files, read_json, read_parquet, write_bytes_atomic
from curation.report import plots as plots

TAIL_SAMPLE = 15
EXAMPLES = 12
SAMPLE_GRID = 12


def write_report(out: str) -> str:
    """Write ``report.html`` and ``report/*.png`` for the run folder ``out``; return its URL."""
    card = read_json(join(out, layout.DATACARD))
    counts_table = read_parquet(join(out, layout.ENTRY_COUNTS))
    counts = counts_table["count"].to_numpy()
    curated = read_parquet(join(out, layout.CURATED_COUNTS))["count"].to_numpy()
    figures = {
        "rank.png": plots.rank_plot(counts, curated, card["t"]),
        "matches_per_text.png": plots.histogram_plot(card["matches_per_text"]),
        "accounting.png": plots.accounting_plot(card),
    }
    if card.get("languages"):
        langs = card["languages"]
        figures["languages.png"] = plots.bar_plot([r["lang"] for r in langs], [r["matches"] for r in langs],
                                                  [r["curated_matches"] for r in langs], "Matches by language")
    if card.get("sources"):
        src = card["sources"]
        figures["sources.png"] = plots.bar_plot([r["source"] for r in src], [r["matches"] for r in src],
                                                [r["curated_matches"] for r in src], "Matches by metadata source")
    if card.get("quality_histograms"):
        figures["quality.png"] = plots.quality_plot(card["quality_histograms"], card.get("min_quality"))
    samples = _samples(out)
    for i, sample in enumerate(samples):
        figures[f"sample_{i:02d}.png"] = sample.pop("png")
    for name, data in figures.items():
        write_bytes_atomic(join(out, layout.REPORT_DIR, name), data)
    page = _page(card, list(figures), _tail_sample(counts_table, card), samples, _low_quality_examples(out),
                 _caption_examples(card))
    url = join(out, layout.REPORT)
    write_bytes_atomic(url, page.encode("utf-8"))
    return url


def _tail_sample(table, card: dict) -> list[dict]:
    """A deterministic sample of tail entries (0 < count <= t): every k-th by id."""
    counts, t = table["count"].to_numpy(), card["t"]
    tail = np.flatnonzero((counts > 0) & (counts <= t))
    picked = tail[:: max(1, len(tail) // TAIL_SAMPLE)][:TAIL_SAMPLE]
    entries = table["entry"].to_pylist()
    return [{"entry_id": int(i), "entry": entries[i], "count": int(counts[i])} for i in picked]


def _samples(out: str) -> list[dict]:
    """Up to ``SAMPLE_GRID`` curated rows with a decodable ``image`` column, with thumbnails."""
    folder = join(out, layout.CURATED)
    samples = []
    for url in list_files(folder, (".parquet",)) if exists(folder) else []:
        table = read_parquet(url)
        if "image" not in table.column_names:
            return []
        for row in table.slice(0, SAMPLE_GRID).to_pylist():
            png = plots.thumbnail(row["image"]) if row.get("image") else None
            if png:
                samples.append({"png": png, "text": row.get("text") or "", "entry_ids": row["entry_ids"]})
            if len(samples) == SAMPLE_GRID:
                return samples
    return samples


def _low_quality_examples(out: str, n: int = EXAMPLES) -> list[list]:
    """A few rows that ``--min-quality`` removed: text, lang and score, lowest score first."""
    from curation.quality.min_quality import MinQualityFilter

    folder = join(out, MinQualityFilter.folder, "_dropped")
    rows: list = []
    for url in list_files(folder, (".parquet",)) if exists(folder) else []:
        table = read_parquet(url)
        langs = table["lang"].to_pylist() if "lang" in table.column_names else [""] * table.num_rows
        rows += [[t if t is not None else "(null)", lang or "", q]
                 for t, lang, q in zip(table[_text_column(table)].to_pylist(), langs, table["quality"].to_pylist())]
        if len(rows) >= 20 * n:
            break
    return sorted(rows, key=lambda r: (r[2], r[0]))[:: max(1, len(rows) // n)][:n]


def _text_column(table) -> str:
    return "text" if "text" in table.column_names else table.column_names[0]


def _caption_examples(card: dict, n: int = EXAMPLES) -> list[list]:
    """Synthetic captions beside their alt-texts, from the captions folders the card lists."""
    rows: list = []
    for folder in card.get("captions", {}):
        for url in list_files(folder, (".parquet",)) if exists(folder) else []:
            table = read_parquet(url)
            texts = table["text"].to_pylist() if "text" in table.column_names else [""] * table.num_rows
            rows += [[k, t or "", c] for k, t, c in zip(table["key"].to_pylist(), texts,
                                                        table["caption"].to_pylist()) if c]
            if len(rows) >= n:
                return rows[:n]
    return rows


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if not value.is_integer() else f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _img(name: str, alt: str) -> str:
    return f'<img src="{layout.REPORT_DIR}/{name}" alt="{html.escape(alt)}">'


def _page(card: dict, figures: list[str], tail: list[dict], samples: list[dict], removed: list[list] = (),
          captions: list[list] = ()) -> str:
    summary = [["pool rows", card["pool_rows"]], ["matched rows", card["matched_rows"]],
               ["unmatched rows", card["unmatched_rows"]], ["rejected rows", card["rejected_rows"]],
               *([["low-quality rows", card["low_quality_rows"]]] if "low_quality_rows" in card else []),
               ["curated rows", card["curated_rows"]],
               ["share of texts matched", card["matched_rows"] / max(card["pool_rows"], 1)],
               ["entries", card["entries"]], ["entries matched", card["entries_matched"]],
               ["entries above t", card["entries_above_t"]], ["tail proportion", card["tail_proportion"]]]
    top = [[e["entry_id"], e["entry"], e["count"], e["expected_after"], e["curated"]] for e in card["top_entries"]]
    parts = [
        "<h1>Curation report</h1>",
        "<h2>Summary</h2>", _table(["quantity", "value"], summary), _img("accounting.png", "pool accounting"),
        "<h2>Entry distribution</h2>", _img("rank.png", "entry counts by rank"),
        _img("matches_per_text.png", "matches per text"),
        "<h2>Top head entries</h2>",
        _table(["entry id", "entry", "count before", "expected after", "actual after"], top),
        "<h2>Sample of tail entries</h2>",
        _table(["entry id", "entry", "count"], [[r["entry_id"], r["entry"], r["count"]] for r in tail]),
    ]
    if card.get("languages"):
        rows = [[r["lang"], r["t"], r["texts"], r["matched_texts"], r["entries_matched"], r["tail_proportion"],
                 r["matches"], r["curated_matches"]] for r in card["languages"]]
        parts += ["<h2>By language</h2>", _table(["lang", "t", "texts", "matched texts", "entries matched",
                                                  "tail proportion", "matches", "curated matches"], rows),
                  _img("languages.png", "matches by language")]
        if card.get("unrouted_langs"):
            parts += ["<h3>Languages without a list (matched against the default list)</h3>",
                      _table(["lang value", "texts"], [[k, v] for k, v in card["unrouted_langs"].items()])]
    if card.get("sources"):
        rows = [[r["source"], r["entries"], r["entries_matched"], r["matches"], r["curated_matches"]]
                for r in card["sources"]]
        parts += ["<h2>By metadata source</h2>",
                  _table(["source", "entries", "entries matched", "matches", "curated matches"], rows),
                  _img("sources.png", "matches by metadata source")]
    if card.get("filters"):
        rows = [[f["stage"], f["input_rows"], f["dropped_rows"],
                 ", ".join(f"{r} {n:,}" for r, n in f["dropped_reasons"].items())] for f in card["filters"]]
        parts += ["<h2>Filter stages</h2>", _table(["stage", "rows in", "rows dropped", "reasons"], rows)]
    if card.get("quality_histograms"):
        parts += ["<h2>Alt-text quality</h2>", _img("quality.png", "quality score distribution by language")]
        if "low_quality_rows" in card:
            parts.append(f"<p>{card['low_quality_rows']:,} rows scored under --min-quality "
                         f"{card['min_quality']:g} and were dropped after matching, before counting.</p>")
        if removed:
            parts += ["<h3>Examples of what the quality filter removed</h3>",
                      _table(["alt-text", "lang", "quality"], removed)]
    if captions:
        parts += ["<h2>Synthetic captions</h2>", _table(["key", "alt-text", "synthetic caption"], captions)]
    if card.get("exports"):
        steps = ("matched", "curated", "opted_out", "fetch_failed", "fetched", "filtered", "written")
        rows = [[out, *(e["funnel"].get(k, "") for k in steps)] for out, e in card["exports"].items()]
        parts += ["<h2>Export funnel</h2>", _table(["export", "matched", "curated (given)", "opted out",
                                                   "fetch failed", "fetched", "filtered", "written"], rows)]
    if card.get("dedup"):
        rows = [[out, p["policy"] + (" (kept)" if p["policy"] == block["policy"] else ""), p["removed_rows"],
                 p["entries_with_fewer_texts"], p["entries_emptied"],
                 f"{p['tail_covered_before']} -> {p['tail_covered_after']} of {p['tail_entries']}"]
                for out, block in card["dedup"].items() for p in block["policies"]]
        parts += ["<h2>Dedup</h2>", _table(["keep list", "policy", "removed rows", "entries with fewer texts",
                                            "entries emptied", "tail entries covered"], rows)]
    if card.get("evaluations"):
        rows = [[checkpoint, r["dataset"], r["task"], ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())]
                for checkpoint, results in card["evaluations"].items() for r in results]
        parts += ["<h2>Zero-shot evaluation</h2>", _table(["checkpoint", "data set", "task", "metrics"], rows)]
    if samples:
        cells = "".join(f'<figure>{_img(f"sample_{i:02d}.png", s["text"])}<figcaption>{html.escape(s["text"])}'
                        f'<br><small>entries {html.escape(str(s["entry_ids"]))}</small></figcaption></figure>'
                        for i, s in enumerate(samples))
        parts += ["<h2>Curated samples</h2>", f'<div class="grid">{cells}</div>']
    parts += ["<h2>Lineage</h2>", _table(["field", "value"], _lineage_rows(card))]
    return _HEAD + "\n".join(parts) + "</body></html>\n"


def _lineage_rows(card: dict) -> list[list]:
    rows = [[k, card[k]] for k in ("metadata_sha256", "variant", "text_column", "t", "seed", "code_version")
            if k in card]
    rows += [[f"input {i['shard']}", f"{i['source']} ({i['pool_rows']:,} rows)"] for i in card.get("inputs", [])]
    rows += [[f"time: {stage}", f"{seconds:.2f} s"] for stage, seconds in card.get("timings_s", {}).items()]
    return rows


_HEAD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Curation report</title>
<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}img{max-width:100%;margin:.5em 0}.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{width:140px;margin:0;font-size:12px}</style></head><body>
"""

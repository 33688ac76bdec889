"""`curate serve RUN`: a read-only web explorer of a run, for curators (Flask).

Pages: the overview (the data card's numbers and the report's plots), the entries (search by
substring, sort by count or name, per language, head and tail against t), an entry (its
count, keep probability and samples of its matched and kept texts), "try a text" (the
entries an alt-text matches with the run's metadata and variant, its keep probability and its
quality score), and the rejects (examples per reason: pool rejects, filter drops, export
failures and opt-outs).

Reading: the entry table (``entry_counts.parquet``) is held in memory (one row per entry).
At start the matched and curated shards are read once, one at a time, and each
entry keeps its first ``SAMPLE`` texts of each (``TextSample``): memory is bounded by
entries x ``SAMPLE``, and an entry page reads no shard. Nothing is written, and no request
names a file: the report's images are served by name from
the list of files the run's ``report/`` folder held at start, and every other parameter is a
number or a query string.
"""

import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import exists, join, list_files, read_json, read_parquet

PAGE = 50
SAMPLE = 20
_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:1em auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 6px}nav a{margin-right:1em}.head{color:#a40}.tail{color:#06a}")


class TextSample:
    """The first ``limit`` texts of each entry in a folder of shards with ``entry_ids``, in
    shard and row order: read once, one shard at a time, and kept as one Arrow string array
    sorted by entry (no Python object per text)."""

    def __init__(self, entries: int, folder: str, column: str, limit: int = SAMPLE):
        self.entry_of = np.zeros(0, np.int64)
        self.texts = pa.array([], pa.string())
        if not exists(folder):
            return
        have = np.zeros(entries, np.int64)
        entry_parts, text_parts = [], []
        for url in list_files(folder, (".parquet",)):
            table = read_parquet(url, columns=[column, "entry_ids"])
            ids = table["entry_ids"].combine_chunks()
            flat = ids.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
            if not len(flat):
                continue
            rows = pc.list_parent_indices(ids).to_numpy(zero_copy_only=False)
            open_ = have[flat] < limit  # entries with their sample full (the head, soon) cost no sort
            flat, rows = flat[open_], rows[open_]
            if not len(flat):
                continue
            # By entry, rows ascending within it: one unique key, so an unstable sort will do.
            order = np.argsort(flat * len(flat) + np.arange(len(flat)))
            flat, rows = flat[order], rows[order]
            starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
            rank = np.arange(len(flat)) - np.repeat(starts, np.diff(np.r_[starts, len(flat)]))
            keep = rank + have[flat] < limit
            flat, rows = flat[keep], rows[keep]
            have += np.bincount(flat, minlength=entries)
            entry_parts.append(flat)
            text_parts.append(table[column].combine_chunks().cast(pa.string()).take(pa.array(rows, pa.int64())))
        if entry_parts:
            entry_of = np.concatenate(entry_parts)
            order = np.argsort(entry_of, kind="stable")  # shard order kept within each entry
            self.entry_of = entry_of[order]
            self.texts = pa.concat_arrays(text_parts).take(pa.array(order, pa.int64()))

    def of(self, entry: int) -> list[str]:
        lo, hi = np.searchsorted(self.entry_of, [entry, entry + 1])
        return self.texts.slice(int(lo), int(hi - lo)).to_pylist()


class ExportImages:
    """Each exported sample's image and caption, found by key in the export's tars (their
    headers read once at start; a request reads one member)."""

    def __init__(self, export: str):
        import tarfile

        self.where: dict[str, tuple[str, int, int]] = {}
        self.captions: dict[str, tuple[str, int, int]] = {}
        for url in list_files(export, (".tar",)):
            with tarfile.open(url) as tar:
                for member in tar.getmembers():
                    key, _, ext = member.name.rsplit("/", 1)[-1].partition(".")
                    if ext in ("jpg", "jpeg", "png", "webp"):
                        self.where[key] = (url, member.offset_data, member.size)
                    elif ext == "txt":
                        self.captions[key] = (url, member.offset_data, member.size)

    @staticmethod
    def _read(place) -> bytes:
        url, offset, size = place
        with open(url, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def image(self, key: str) -> bytes | None:
        return self._read(self.where[key]) if key in self.where else None

    def caption(self, key: str) -> str:
        return self._read(self.captions[key]).decode("utf-8", "replace") if key in self.captions else ""


class Neighbours:
    """kNN over a `curate index` folder, queries encoded with the model that made it."""

    def __init__(self, index: str, model: str, checkpoint: str | None):
        from curation.gpu import index as faiss_index
        from curation.gpu.models import load_model

        self.index, self.keys, _ = faiss_index.load(index)
        self.bundle = load_model(model, checkpoint)

    def search(self, k: int, text: str | None = None, image: bytes | None = None) -> list[tuple[str, float]]:
        import io

        from curation.gpu import index as faiss_index
        from curation.gpu.models import encode_query

        query = encode_query(self.bundle, text=text) if text is not None else \
            encode_query(self.bundle, image=io.BytesIO(image))
        return faiss_index.search(self.index, self.keys, query[None, :], k)[0]


class RunView:
    """What the pages read: the run's card, entries, counts, thresholds, matcher and folders."""

    def __init__(self, run: str, export: str | None = None):
        from curation.export.finish import run_entry_table

        table, self.t = run_entry_table(run)
        self.run, self.export = run, export
        self.card = read_json(join(run, layout.DATACARD))
        self.entries = table["entry"].to_pylist()
        self.lower = [e.lower() for e in self.entries]
        self.langs = table["lang"].to_pylist() if "lang" in table.column_names else None
        self.counts = table["count"].to_numpy()
        self.p = self.t / np.maximum(self.counts, self.t)
        report = Path(run) / "report"
        self.images = sorted(p.name for p in report.glob("*.png")) if report.is_dir() else []
        self._matcher = None
        column = self.card.get("text_column", "text")
        self.matched = TextSample(len(self.entries), join(run, layout.MATCHED), column)
        self.kept = TextSample(len(self.entries), join(run, layout.CURATED), column)

    def matcher(self):
        if self._matcher is None:
            from curation.core.shards import MANIFEST
            from curation.matching.cache import metadata_matcher
            from curation.matching.metadata_io import load_metadata

            manifest = read_json(join(self.run, layout.MATCHED, MANIFEST))
            metadata = load_metadata(manifest["metadata"])
            params = manifest.get("params", {})
            self._matcher = metadata_matcher(metadata, params.get("variant", self.card.get("variant")),
                                             params.get("default_lang", "en"), lang_map=params.get("lang_map"))
        return self._matcher

    def search(self, query: str, lang: str, sort: str, page: int) -> tuple[list[int], int]:
        """Entry ids matching ``query`` (substring, any case) and ``lang``, sorted, one page."""
        q = query.lower()
        ids = np.array([i for i, e in enumerate(self.lower) if q in e] if q else range(len(self.lower)), np.int64)
        if lang and self.langs is not None:
            ids = ids[[self.langs[i] == lang for i in ids]] if len(ids) else ids
        if sort == "entry":
            ids = ids[np.argsort(np.array([self.entries[i] for i in ids], dtype=object), kind="stable")]
        else:  # by count, most first; ties by id
            ids = ids[np.lexsort((ids, -self.counts[ids]))] if len(ids) else ids
        return ids[page * PAGE:(page + 1) * PAGE].tolist(), len(ids)

    def rejects(self, limit: int = 10) -> dict:
        """Examples per reason: pool rejects, filter drops, export outcomes other than success."""
        out: dict = {}
        sources = [(join(self.run, layout.MATCHED, "_rejected"), "reason", "raw"),
                   (join(self.run, "min_quality", "_dropped"), "reason", self.card.get("text_column", "text"))]
        for folder, reason, shown in sources:
            for url in list_files(folder, (".parquet",)) if exists(folder) else []:
                table = read_parquet(url)
                for r in table.select([c for c in (reason, shown) if c in table.column_names]).to_pylist():
                    out.setdefault(r.get(reason) or "", []).append(str(r.get(shown)))
        if self.export:
            from curation.export.finish import status_tables

            for url in status_tables(self.export):
                for r in read_parquet(url, columns=["status", "error_message", "url"]).to_pylist():
                    if r["status"] != "success":
                        out.setdefault(f"export: {r['status']} {r['error_message'] or ''}".strip(), []).append(
                            str(r["url"]))
        return {k: v[:limit] for k, v in sorted(out.items())}


def make_app(run: str, export: str | None = None, index: str | None = None, model: str = "ViT-B-32",
             checkpoint: str | None = None):
    """The Flask application of one run (its export, and an index of its embeddings)."""
    from flask import Flask, abort, request, send_file

    view = RunView(run, export)
    if index is not None and (export is None or "://" in export):
        raise InputError("--index needs a local --export: kNN results are shown as the export's images, read "
                         "from its tars")
    images = ExportImages(export) if index else None  # tar headers are read only when kNN needs them
    neighbours = Neighbours(index, model, checkpoint) if index else None
    app = Flask("curate-serve")
    app.config["MAX_CONTENT_LENGTH"] = 20 << 20  # an uploaded query image, held in memory only

    @app.get("/")
    def overview():
        card = view.card
        rows = [(k, card.get(k)) for k in ("pool_rows", "matched_rows", "unmatched_rows", "rejected_rows",
                                           "curated_rows", "entries", "entries_matched", "entries_above_t", "t",
                                           "unit", "variant", "tail_proportion") if k in card]
        images = "".join(f"<img alt='{html.escape(n)}' src='/report/{html.escape(n)}'>" for n in view.images)
        return _page("Run", _table(["field", "value"], rows) + images)

    @app.get("/entries")
    def entries():
        q, lang, sort = request.args.get("q", ""), request.args.get("lang", ""), request.args.get("sort", "count")
        page = max(0, request.args.get("page", 0, type=int))
        ids, total = view.search(q, lang, sort, page)
        rows = [(f"<a href='/entry/{i}'>{html.escape(view.entries[i])}</a>", int(view.counts[i]),
                 f"{view.p[i]:.4f}", "<span class='head'>head</span>" if view.counts[i] > view.t[i]
                 else "<span class='tail'>tail</span>") for i in ids]
        form = (f"<form><input name='q' value='{html.escape(q)}'> <select name='sort'>"
                + "".join(f"<option{' selected' if s == sort else ''}>{s}</option>" for s in ("count", "entry"))
                + f"</select> <input name='lang' value='{html.escape(lang)}' placeholder='lang'>"
                f" <button>search</button></form><p>{total} entries; t = {view.card.get('t')}</p>")
        more = f"<a href='?q={html.escape(q)}&sort={sort}&lang={html.escape(lang)}&page={page + 1}'>next</a>" \
            if (page + 1) * PAGE < total else ""
        return _page("Entries", form + _table(["entry", "count", "keep probability", ""], rows, raw=True) + more)

    @app.get("/entry/<int:entry>")
    def entry(entry: int):
        if not 0 <= entry < len(view.entries):
            abort(404)
        matched, kept = view.matched.of(entry), view.kept.of(entry)
        body = (_table(["field", "value"], [("entry", view.entries[entry]), ("count", int(view.counts[entry])),
                                             ("t", view.t[entry]), ("keep probability", f"{view.p[entry]:.4f}")])
                + "<h2>Matched texts</h2>" + _list(matched) + "<h2>Kept texts</h2>" + _list(kept))
        return _page(view.entries[entry], body)

    @app.get("/try")
    def try_text():
        from curation.quality.score import QualityScorer

        text = request.args.get("text", "")
        body = f"<form><input name='text' size='60' value='{html.escape(text)}'> <button>try</button></form>"
        if text:
            ids, _ = view.matcher().match_arrow(pa.array([text]))
            ids = ids.to_pylist()[0]
            keep = 1 - float(np.prod(1 - view.p[ids])) if ids else 0.0
            rows = [(f"<a href='/entry/{i}'>{html.escape(view.entries[i])}</a>", int(view.counts[i]),
                     f"{view.p[i]:.4f}") for i in ids]
            body += (_table(["entry", "count", "keep probability"], rows, raw=True)
                     + _table(["", ""], [("keep probability of the text", f"{keep:.4f}"),
                                         ("quality score", f"{QualityScorer().score(text):.4f}")]))
        return _page("Try a text", body)

    @app.get("/rejects")
    def rejects():
        parts = "".join(f"<h2>{html.escape(reason or '(no reason)')}</h2>" + _list(examples)
                        for reason, examples in view.rejects().items())
        return _page("Rejects and filters", parts or "<p>none</p>")

    @app.route("/knn", methods=["GET", "POST"])
    def knn():
        if neighbours is None:
            return _page("kNN", "<p>Start <code>curate serve</code> with --index (and --export) to search.</p>")
        text = request.values.get("text", "")
        k = min(100, max(1, request.values.get("k", 12, type=int)))
        upload = request.files.get("image")
        body = ("<form><input name='text' size='50' value='" + html.escape(text) + "'> <button>search by text"
                "</button></form><form method='post' enctype='multipart/form-data'><input type='file' name='image'>"
                " <button>search by image</button></form>")
        hits = []
        if upload is not None and upload.filename:
            try:
                hits = neighbours.search(k, image=upload.read())
            except InputError as exc:
                body += f"<p>{html.escape(str(exc))}</p>"
        elif text:
            hits = neighbours.search(k, text=text)
        cells = "".join(f"<figure><img alt='{html.escape(key)}' src='/image/{html.escape(key)}' width='128'>"
                        f"<figcaption>{html.escape(images.caption(key))}<br><small>{score:.4f}</small></figcaption>"
                        f"</figure>" for key, score in hits)
        return _page("kNN", body + f"<div class='grid'>{cells}</div>")

    @app.get("/image/<key>")
    def image(key: str):
        data = images.image(key) if images is not None else None  # a key of the export, never a path
        if data is None:
            abort(404)
        kind = "png" if data[:4] == b"\x89PNG" else "webp" if data[8:12] == b"WEBP" else "jpeg"
        return app.response_class(data, mimetype=f"image/{kind}")

    @app.get("/card")
    def card():
        return app.response_class(json.dumps(view.card, indent=2, ensure_ascii=False), mimetype="application/json")

    @app.get("/report/<name>")
    def report_image(name: str):
        if name not in view.images:  # only the files the report folder held at start, by name
            abort(404)
        return send_file(Path(view.run) / "report" / name, mimetype="image/png")

    return app


def _page(title: str, body: str) -> str:
    nav = "".join(f"<a href='{u}'>{n}</a>" for u, n in (("/", "run"), ("/entries", "entries"), ("/try", "try a text"),
                                                          ("/rejects", "rejects"), ("/knn", "kNN"),
                                                          ("/card", "data card")))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><nav>{nav}</nav><h1>{html.escape(title)}</h1>{body}</body></html>")


def _table(head: list[str], rows, raw: bool = False) -> str:
    cell = (lambda v: str(v)) if raw else (lambda v: html.escape(str(v)))
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows) + "</table>")


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>" if items else "<p>none</p>"


def serve_command(cfg: dict, executor=None) -> int:
    c = cfg["serve"]
    app = make_app(c.run, c.export, c.index, c.model, c.checkpoint)
    from werkzeug.serving import run_simple

    run_simple(c.host, c.port, app, threaded=True)
    return 0

"""``make bench`` ingest case: the per-file cost of ``curate ingest`` against a plain
FastWARC + selectolax parse of the same files, on one core.

    .venv/bin/python -m bench.ingest [--out .bench/ingest.json] [--files 5] [--pages 3000]

The inputs are WARC files of HTML pages built from real text (WordNet glosses for English,
Django's translation catalogs for ~100 other languages), with the ``<img>`` forms pages
use: site logos and icons repeated on every page (exact duplicates), absolute,
root-relative, relative and protocol-relative sources, ``<base href>``, ``data:`` URIs,
images without alt-text, and text around them. Per-file marginal seconds
are ``(t(N files) - t(1 file)) / (N - 1)`` of ``run_ingest`` in one ``local[1]`` session,
so session start and job overheads cancel out; the plain loop runs on the same files in the
same process. ``pairs_sha256`` digests the sorted (url, text) pairs of the pool, to compare
outputs across versions.
"""

import argparse
import hashlib
import io
import random
import shutil
import time
from pathlib import Path
from urllib.parse import urljoin

import pyarrow.parquet as pq

from bench import emit
from bench.corpora import po_sentences
from bench.inputs import wordnet_texts

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".bench" / "ingest"
IMAGES_PER_PAGE = 20


def _page(rng: random.Random, i: int, texts: list[str], prose: list[str]) -> tuple[str, bytes]:
    host = f"www.site{i % 97}.example"
    url = f"https://{host}/articles/{i // 100}/page-{i}.html"
    cdn = f"https://cdn{i % 7}.img.example"
    parts = [f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{rng.choice(prose)}</title>",
             "<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}"
             "</script><style>.nav a{color:#333} img{max-width:100%}</style>"]
    if i % 10 == 0:
        parts.append('<base href="/static/v2/">')
    # Site templates repeat images on every page: exact (url, text) duplicates within and
    # across files, which the dedup removes.
    parts.append(f'</head><body><header><img src="/static/logo.svg" alt="www.site{i % 97}.example logo">'
                 '<img src="https://cdn.share.example/icons/share.png" alt="Share this page"></header><nav>'
                 + "".join(f'<a href="/s/{k}">{rng.choice(prose)[:30]}</a>'
                                                 for k in range(8)) + "</nav><main>")
    for j in range(IMAGES_PER_PAGE):
        src = _src(rng, i, j, cdn)
        alt = "" if rng.random() < 0.08 else rng.choice(texts)
        alt_attr = "" if rng.random() < 0.05 else f' alt="{_attr(alt)}"'
        extra = ' loading="lazy" width="640" height="480"' if j % 3 else ""
        parts.append(f"<p>{_attr(rng.choice(prose))}</p><figure><img src=\"{src}\"{alt_attr}{extra}>"
                     f"<figcaption>{_attr(rng.choice(prose))}</figcaption></figure>")
    parts.append("</main><footer>&copy; 2026</footer></body></html>")
    return url, "".join(parts).encode("utf-8")


def _src(rng: random.Random, i: int, j: int, cdn: str) -> str:
    roll = rng.random()
    name = f"{i:06d}-{j:02d}-{rng.getrandbits(32):08x}"
    if roll < 0.40:
        return f"{cdn}/photos/{name}.jpg?w=640&q=80"
    if roll < 0.70:
        return f"/uploads/2026/{i % 12 + 1:02d}/{name}.jpg"
    if roll < 0.85:
        return f"images/{name}.png"
    if roll < 0.95:
        return f"//static.site{i % 13}.example/a/{name}.webp"
    if roll < 0.97:
        return "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    return f"../shared/{name}.gif"


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def build_inputs(n_files: int, pages: int) -> list[Path]:
    """``n_files`` gzipped WARC files of ``pages`` pages each, under ``.bench/ingest/in``."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder = WORK / "in"
    files = [folder / f"crawl-{k:02d}.warc.gz" for k in range(n_files)]
    stamp = folder / f".built-{n_files}-{pages}"
    if stamp.exists():
        return files
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    english = wordnet_texts()
    by_lang = po_sentences()
    langs = sorted(by_lang)
    for k, path in enumerate(files):
        rng = random.Random(k)
        with open(path, "wb") as f:
            writer = WARCWriter(f, gzip=True)
            for p in range(pages):
                lang = "en" if rng.random() < 0.5 else rng.choice(langs)
                texts = english if lang == "en" else by_lang[lang]
                url, body = _page(rng, k * pages + p, texts, english)
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                           protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                              http_headers=headers))
    stamp.touch()
    return files


def plain_parse(path: Path) -> int:
    """The reference loop: FastWARC records, Lexbor ``<img>`` nodes, ``src`` resolved
    against the page URL; counts the images with a source and an alt-text."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from selectolax.lexbor import LexborHTMLParser

    found = 0
    with open(path, "rb") as f:
        for record in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
            page_url = record.headers.get("WARC-Target-URI")
            tree = LexborHTMLParser(record.reader.read())
            for node in tree.css("img"):
                src, alt = node.attributes.get("src"), node.attributes.get("alt")
                if src and alt:
                    urljoin(page_url, src)
                    found += 1
    return found


def pairs_digest(pool: Path) -> tuple[int, str]:
    flat = sorted(pair for f in sorted(pool.glob("[0-9]*.parquet"))
                  for pair in zip(*pq.read_table(f, columns=["url", "text"]).to_pydict().values()))
    digest = hashlib.sha256("\n".join(f"{u}\t{t}" for u, t in flat).encode()).hexdigest()
    return len(flat), digest


def run(files: list[Path]) -> dict:
    from curation.ingest.config import IngestConfig
    from curation.ingest.run import run_ingest
    from jobs.spark import SparkExecutor, get_spark

    spark = SparkExecutor(get_spark("local[1]", "bench-ingest"))
    result: dict = {"files": len(files), "pages_per_file": None}
    warm = WORK / "warm"
    run_ingest(spark, IngestConfig(input=str(files[0]), out=str(warm), langid=True))  # start the worker
    shutil.rmtree(warm)
    for langid in (True, False):
        times = {}
        for n in (1, len(files)):
            out = WORK / f"pool-{n}-{'lid' if langid else 'nolid'}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            summary = run_ingest(spark, IngestConfig(input=",".join(map(str, files[:n])), out=str(out),
                                                     langid=langid))
            times[n] = time.perf_counter() - start
        marginal = (times[len(files)] - times[1]) / (len(files) - 1)
        name = "with_langid" if langid else "without_langid"
        result[f"ingest_{name}_s"] = {str(n): round(t, 2) for n, t in times.items()}
        result[f"ingest_marginal_s_per_file_{name}"] = round(marginal, 3)
        if langid:
            result["pairs"], result["pairs_sha256"] = pairs_digest(out)
            result["pairs_before_dedup"] = summary["pairs_before_dedup"]
            result["pages_per_file"] = summary["per_file"][0]["pages"]
    plain = []
    for path in files:
        start = time.perf_counter()
        result["plain_pairs_per_file"] = plain_parse(path)
        plain.append(time.perf_counter() - start)
    result["plain_parse_s_per_file"] = round(sum(plain) / len(plain), 3)
    for name in ("with_langid", "without_langid"):
        result[f"ratio_{name}"] = round(result["plain_parse_s_per_file"]
                                        / result[f"ingest_marginal_s_per_file_{name}"], 2)
    spark.spark.stop()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--pages", type=int, default=3000)
    args = parser.parse_args(argv)
    files = build_inputs(args.files, args.pages)
    emit({"ingest": run(files)}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Ingest from WARC and WAT files built here with warcio: URL resolution, alt-text hygiene,
charsets, damaged gzip, language ids, cross-file dedup, resume, and url+caption tables."""

import gzip
import io
import json
import re

import pyarrow.parquet as pq
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curation.ingest.config import IngestConfig
from curation.ingest.run import run_ingest
from curation.ingest.urls import url_key
from jobs import cli

PAGE1 = b"""<html><head><title>t</title></head><body>
<img src="/img/abs.jpg" alt="A small brown dog sleeping on the sofa">
<img src="rel.jpg" alt="   Un petit chien qui dort sur le canape   ">
<img src="//cdn.site.com/p.png" alt="Ein kleiner Hund schlaeft auf dem Sofa">
<img src="https://other.org/x.jpg#frag" alt="Absolute image" title="  A title ">
<img src="noalt.jpg">
<img src="data:image/png;base64,AAAA" alt="inline data">
</body></html>"""
PAGE2 = b'<html><head><base href="/static/"></head><body><img src="c.jpg" alt="Based image"></body></html>'
PAGE3_LATIN1 = "<html><body><img src='cafe.jpg' alt='Caf\u00e9 au lait'></body></html>".encode("latin-1")
PAGE4_BAD_UTF8 = b"<html><body><img src='bad.jpg' alt='broken \xff\xfe bytes'></body></html>"


def write_warc(path, pages, truncate_tail=False):
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, body, ctype in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
    if truncate_tail:  # a final gzip member cut in the middle
        member = gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n" + b"x" * 2000)
        with open(path, "ab") as f:
            f.write(member[: len(member) // 2])


def write_wat(path, page_url, base, links):
    meta = {"Envelope": {"WARC-Header-Metadata": {"WARC-Target-URI": page_url},
                         "Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": {
                             "Head": {"Base": base} if base else {}, "Links": links}}}}}
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        payload = io.BytesIO(json.dumps(meta).encode())
        writer.write_record(writer.create_warc_record(page_url, "metadata", payload=payload,
                                                      warc_content_type="application/json"))


def pool_rows(folder):
    return [r for f in sorted(folder.glob("[0-9]*.parquet")) for r in pq.read_table(f).to_pylist()]


def make_inputs(tmp_path):
    inputs = tmp_path / "cc"
    inputs.mkdir()
    write_warc(inputs / "a.warc.gz", [
        ("http://site.com/dir/page.html", PAGE1, "text/html; charset=utf-8"),
        ("http://base.com/a/b.html", PAGE2, "text/html"),
        ("http://latin.com/", PAGE3_LATIN1, "text/html; charset=iso-8859-1"),
        ("http://bad.com/", PAGE4_BAD_UTF8, "text/html"),
        ("http://site.com/logo.jpg", b"\xff\xd8\xff", "image/jpeg"),
    ])
    write_warc(inputs / "b.warc.gz", [
        ("http://mirror.com/copy.html", b'<img src="http://site.com/img/abs.jpg" alt="A small brown dog sleeping on '
                                        b'the sofa"><img src="new.jpg" alt="Only in b">', "text/html"),
    ], truncate_tail=True)
    write_wat(inputs / "c.wat.gz", "http://wat.com/x/page", "http://wat.com/assets/",
              [{"path": "IMG@/src", "url": "w.jpg", "alt": "From the WAT file"},
               {"path": "A@/href", "url": "/link", "text": "a link"}])
    return inputs


def test_ingest_warc_and_wat_to_pool(executor, tmp_path):
    inputs = make_inputs(tmp_path)
    summary = run_ingest(executor, IngestConfig(input=str(inputs), out=str(tmp_path / "pool"), shards=2))
    rows = pool_rows(tmp_path / "pool")
    got = {(r["url"], r["text"]): r for r in rows}
    assert set(got) == {
        ("http://site.com/img/abs.jpg", "A small brown dog sleeping on the sofa"),
        ("http://site.com/dir/rel.jpg", "Un petit chien qui dort sur le canape"),
        ("http://cdn.site.com/p.png", "Ein kleiner Hund schlaeft auf dem Sofa"),
        ("https://other.org/x.jpg", "Absolute image"),
        ("http://base.com/static/c.jpg", "Based image"),
        ("http://latin.com/cafe.jpg", "Caf\u00e9 au lait"),
        ("http://bad.com/bad.jpg", "broken \ufffd\ufffd bytes"),
        ("http://mirror.com/new.jpg", "Only in b"),
        ("http://wat.com/assets/w.jpg", "From the WAT file"),
    }
    dog = got[("http://site.com/img/abs.jpg", "A small brown dog sleeping on the sofa")]
    assert dog["page_url"] == "http://site.com/dir/page.html" and dog["source"].endswith("a.warc.gz")
    assert dog["key"] == url_key("http://site.com/img/abs.jpg")
    assert got[("https://other.org/x.jpg", "Absolute image")]["title"] == "A title"
    assert {got[k]["lang"] for k in got if k[1].startswith(("A small", "Un petit", "Ein kleiner"))} == \
        {"en", "fr", "de"}
    assert summary["pairs_before_dedup"] == 10 and summary["pairs_after_dedup"] == 9
    per_file = {s["file"].rsplit("/", 1)[-1]: s for s in summary["per_file"]}
    assert per_file["a.warc.gz"]["pages"] == 4 and per_file["a.warc.gz"]["images"] == 9
    assert per_file["a.warc.gz"]["unusable_url"] == 1 and per_file["a.warc.gz"]["kept"] == 7
    assert per_file["b.warc.gz"]["bad_records"] == 1 and per_file["b.warc.gz"]["kept"] == 2
    assert per_file["c.wat.gz"]["kept"] == 1
    # The collection period: the WARC-Dates warcio stamped on the records, to the second.
    period = summary["collection_period"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", period["first"]) and period["first"] <= period["last"]
    assert period == {"first": min(s["first_date"] for s in summary["per_file"]),
                      "last": max(s["last_date"] for s in summary["per_file"])}


def test_rerun_resumes_per_file_and_gives_the_same_pool(executor, tmp_path):
    inputs = make_inputs(tmp_path)
    run_ingest(executor, IngestConfig(input=str(inputs), out=str(tmp_path / "pool"), langid=False))
    first = pool_rows(tmp_path / "pool")
    (tmp_path / "pool" / "_parsed" / "_done" / "00001.json").unlink()
    again = run_ingest(executor, IngestConfig(input=str(inputs), out=str(tmp_path / "pool"), langid=False))
    assert [s["skipped"] for s in again["per_file"]] == [True, False, True]
    assert pool_rows(tmp_path / "pool") == first


def test_tables_and_the_command_then_curate(executor, tmp_path, capsys):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "a.csv").write_text("url,caption,extra\nhttp://x.com/1.jpg,a red car,1\nhttp://x.com/2.jpg,,2\n")
    (tables / "b.tsv").write_text("link\ttext\nhttp://x.com/3.jpg\ta blue car\n")
    assert cli.main(["ingest", "--input", str(tables / "a.csv"), "--out", str(tmp_path / "pa"), "--no-langid"]) == 0
    assert [(r["url"], r["text"], r["extra"]) for r in pool_rows(tmp_path / "pa")] == \
        [("http://x.com/1.jpg", "a red car", 1)]
    assert cli.main(["ingest", "--input", str(tables / "b.tsv"), "--out", str(tmp_path / "pb"),
                     "--url-column", "link", "--caption-column", "text"]) == 0
    rows = pool_rows(tmp_path / "pb")
    assert rows[0]["text"] == "a blue car" and rows[0]["lang"] == "en"
    (tmp_path / "meta.json").write_text('["car", "blue"]')
    assert cli.main(["curate", "--pool", str(tmp_path / "pb"), "--metadata", str(tmp_path / "meta.json"),
                     "--out", str(tmp_path / "run"), "--t", "10"]) == 0
    assert "curated rows            1" in capsys.readouterr().out

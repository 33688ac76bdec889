"""Bad parameters, run folders and inputs through the ``curate`` command: clear errors
before any work, damaged outputs redone, hostile ingest inputs counted, a clean stdout."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_inputs(tmp_path):
    pool = write_pool(tmp_path / "pool", make_rows(120, seed=3), shards=3)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "hot dog", "photo"])
    return pool, meta


@pytest.mark.parametrize("flags, message", [
    (["--t", "0"], "--t 0.0: must be a finite number > 0"), (["--t", "-1"], "must be a finite number > 0"),
    (["--t", "nan"], "--t nan"), (["--t", "inf"], "--t inf"),
    (["--seed", str(2**64)], "must be an integer in [0, 2**64)"), (["--seed", str(2**70)], "2**64"),
])
def test_bad_parameters_stop_before_any_work(executor, tmp_path, run_inputs, caplog, flags, message):
    pool, meta = run_inputs
    out = tmp_path / "out"
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), *flags]) == 2
    assert message in caplog.text and not out.exists()


def test_output_folder_checks(executor, tmp_path, run_inputs, caplog):
    pool, meta = run_inputs
    (tmp_path / "afile").write_text("x")
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "afile")]) == 2
    assert "is a file; give a folder" in caplog.text
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(pool)]) == 2
    assert "would read its own outputs" in caplog.text
    assert sorted(p.name for p in pool.iterdir()) == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    assert cli.main(["status", "--out", str(tmp_path / "missing")]) == 2
    assert "no such folder" in caplog.text


def test_damaged_shards_are_redone_and_shown_by_status(executor, tmp_path, run_inputs, capsys):
    pool, meta = run_inputs
    out = tmp_path / "out"
    args = ["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "10"]
    assert cli.main(args) == 0
    curated = sorted(r["key"] for f in (out / "curated").glob("*.parquet") for r in pq.read_table(f).to_pylist())
    data = (out / "matched" / "00001.parquet").read_bytes()
    (out / "matched" / "00001.parquet").write_bytes(data[: len(data) // 2])
    flipped = bytearray((out / "curated" / "00002.parquet").read_bytes())
    flipped[20] ^= 0xFF
    (out / "curated" / "00002.parquet").write_bytes(bytes(flipped))
    capsys.readouterr()
    assert cli.main(["status", "--out", str(out)]) == 1  # the truncated shard, by its size
    status = json.loads(capsys.readouterr().out)
    assert list(status["match"]["damaged"]) == ["00001"] and not status["match"]["complete"]
    assert status["balance"]["damaged_count"] == 0  # same size: only --verify reads checksums
    assert cli.main(["status", "--out", str(out), "--verify"]) == 1
    assert list(json.loads(capsys.readouterr().out)["balance"]["damaged"]) == ["00002"]
    assert cli.main(args) == 0
    assert sorted(r["key"] for f in sorted((out / "curated").glob("*.parquet"))
                  for r in pq.read_table(f).to_pylist()) == curated
    capsys.readouterr()
    assert cli.main(["status", "--out", str(out), "--verify"]) == 0


def test_damaged_json_and_unsafe_yaml_are_clear_errors(executor, tmp_path, run_inputs, caplog):
    pool, meta = run_inputs
    out = tmp_path / "out"
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "10"]) == 0
    card = out / "datacard.json"
    card.write_text(card.read_text()[:100])
    assert cli.main(["report", "--out", str(out)]) == 2
    assert "datacard.json: not valid JSON" in caplog.text
    config = tmp_path / "run.yaml"
    config.write_text("t: !!python/object/apply:os.system ['echo pwned > %s']\n" % (tmp_path / "pwned"))
    assert cli.main(["balance", "--config", str(config), "--out", str(out)]) == 2
    assert "not a plain YAML file" in caplog.text and not (tmp_path / "pwned").exists()


def test_report_skips_a_thumbnail_it_cannot_make(executor, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    size, comp = 30_000, zlib.compressobj(9)
    body = b"".join(comp.compress(b"\x00" * (1 + size // 8)) for _ in range(size)) + comp.flush()
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    pool = tmp_path / "pool"
    pool.mkdir()
    pq.write_table(pa.table({"key": ["a", "b"], "text": ["a dog", "a cat"], "image": [bomb, b"not an image"]}),
                   pool / "p.parquet")
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "report.html").exists()


def warc_member(url: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))
    return buf.getvalue()


def wat_member(meta) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warc_record("http://w.com/p", "metadata",
                                                  payload=io.BytesIO(json.dumps(meta).encode()),
                                                  warc_headers_dict={"Content-Type": "application/json"}))
    return buf.getvalue()


def test_hostile_ingest_inputs_are_counted_not_fatal(executor, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = warc_member("http://a.com/1", b"<img src='x.jpg' alt='a good dog'>")
    for i in range(9):
        (inputs / f"ok{i}.warc.gz").write_bytes(warc_member(f"http://a.com/{i}", f"<img src='{i}.jpg' alt='dog {i}'>"
                                                            .encode()))
    cut = warc_member("http://b.com/cut", b"<img src='c.jpg' alt='cut away'>" + b"x" * 3000)
    after = warc_member("http://b.com/after", b"<img src='after.jpg' alt='read after the damage'>")
    (inputs / "middle.warc.gz").write_bytes(good + cut[: len(cut) // 2] + after)
    (inputs / "bad.wat.gz").write_bytes(wat_member([1, 2, 3]) + wat_member(
        {"Envelope": {"Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": {"Links": "nope"}}}}})
        + wat_member({"Envelope": {"Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": {"Links": [
            {"path": "IMG@/src", "url": "http://h.com:99999/p.jpg", "alt": "bad port"},
            {"path": "IMG@/src", "url": "http://[::1/x.jpg", "alt": "bad host"},
            {"path": "IMG@/src", "url": "http://h.com/ok.jpg", "alt": "fine"}]}}}}}))
    (inputs / "numeric.csv").write_text("url,caption\nhttp://n.com/1.jpg,2024\n12345,a caption\n")
    out = tmp_path / "pool"
    assert cli.main(["ingest", "--input", str(inputs), "--out", str(out), "--no-langid"]) == 0
    stats = json.loads((out / "ingest_stats.json").read_text())
    per_file = {Path(s["file"]).name: s for s in stats["per_file"]}
    assert stats["files"] == 12
    texts = {r["text"] for f in out.glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert {"a good dog", "read after the damage", "fine", "2024"} <= texts
    assert "cut away" not in texts and per_file["middle.warc.gz"]["bad_records"] >= 1
    assert per_file["bad.wat.gz"]["bad_records"] == 2 and per_file["bad.wat.gz"]["unusable_url"] == 2
    assert per_file["numeric.csv"]["unusable_url"] == 1
    assert all(f"dog {i}" in texts for i in range(9))


def test_summary_on_stdout_is_clean(tmp_path, run_inputs):
    pool, meta = run_inputs
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "curate", "--pool", str(pool), "--metadata", str(meta),
                           "--out", str(tmp_path / "o"), "--t", "10", "--executor", "spark", "--master", "local[2]"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["pool", "matched", "unmatched", "rejected", "images", "curated",
                                                   "entries", "top", "outputs", "report"]
    assert "INFO" in done.stderr and "INFO" not in done.stdout and "[Stage" not in done.stdout + done.stderr


def test_s3_claims_are_exclusive(s3_server, monkeypatch):
    import s3fs

    from curation.core.io import create_exclusive, using_storage
    from curation.core.storage import StorageOptions

    s3fs.S3FileSystem(key="k", secret="s", endpoint_url=s3_server.endpoint).mkdir("claims")
    options = StorageOptions(endpoint_url=s3_server.endpoint, key="k", secret="s", region="us-east-1")
    with using_storage(options):
        assert create_exclusive("s3://claims/run/_manifest.json", b"first") is True
        assert create_exclusive("s3://claims/run/_manifest.json", b"second") is False
    fs = s3fs.S3FileSystem(key="k", secret="s", endpoint_url=s3_server.endpoint)
    assert fs.cat("claims/run/_manifest.json") == b"first"


def test_make_refuses_an_old_python(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.10.14' && exit 0\nexit 1\n")
    fake.chmod(0o755)
    done = subprocess.run(["make", "-s", "check-python", f"PYTHON={fake}"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "Python 3.10.14; this project needs Python 3.11+" in done.stderr


def test_the_member_after_a_cut_one_is_always_read(tmp_path):
    """The cut point falls at a random place of a member with random record ids: however
    the damaged bytes decode, the intact member after them is read (it once was lost when
    the damaged stream happened to end cleanly)."""
    from curation.ingest.records import FileCounts, iter_pages

    for trial in range(40):
        cut = warc_member("http://b.com/cut", b"<img src='c.jpg' alt='cut away'>" + b"x" * (1000 + 97 * trial))
        data = (warc_member("http://a.com/1", b"<img src='x.jpg' alt='a good dog'>") + cut[: len(cut) // 2]
                + warc_member("http://b.com/after", b"<img src='a.jpg' alt='after'>"))
        (tmp_path / "m.warc.gz").write_bytes(data)
        counts = FileCounts()
        assert [p.url for p in iter_pages(str(tmp_path / "m.warc.gz"), counts)] == ["http://a.com/1",
                                                                                  "http://b.com/after"]
        assert counts.bad_records >= 1
    plain = io.BytesIO()
    writer = WARCWriter(plain, gzip=False)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("http://p.com/", "response", payload=io.BytesIO(b"<img>"),
                                                  http_headers=headers))
    (tmp_path / "plain.warc").write_bytes(plain.getvalue())
    assert [p.url for p in iter_pages(str(tmp_path / "plain.warc"), FileCounts())] == ["http://p.com/"]


def test_many_members_and_a_whole_file_gzip_are_read_whole(tmp_path, monkeypatch):
    import gzip

    import curation.ingest.records as records

    monkeypatch.setattr(records, "MAX_RESYNC", 3)  # bounds the skipped damage, never the intact members
    members = [warc_member(f"http://m.com/{i}", b"<img src='x.jpg' alt='dog'>") for i in range(12)]
    (tmp_path / "many.warc.gz").write_bytes(b"".join(members))
    assert len(list(records.iter_pages(str(tmp_path / "many.warc.gz"), records.FileCounts()))) == 12
    monkeypatch.setattr(records, "MAX_CHECKED_MEMBER", 1000)  # a whole file in one member: streamed
    whole = b"".join(gzip.decompress(m) for m in members)
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(whole))
    counts = records.FileCounts()
    assert len(list(records.iter_pages(str(tmp_path / "whole.warc.gz"), counts))) == 12
    assert counts.bad_records == 0

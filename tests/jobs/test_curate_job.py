"""The Spark jobs on a real local[2] session: same results as the library, deterministic
across shardings, cores and reruns, every row accounted for, clear errors."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
from curation.chain.run import run_balance, run_count, run_match
from curation.core.errors import InputError, LineageError
from curation.matching import Matcher
from jobs import cli
from tests.helpers import VOCAB, make_rows, write_metadata, write_pool


def read_dir(folder: Path) -> list[dict]:
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def curate(executor, pool, metadata, out, t=30, seed=0, variant="metaclip-v2"):
    run_match(executor, MatchConfig(pool=str(pool), metadata=str(metadata), out=str(out), variant=variant))
    run_count(executor, CountConfig(out=str(out)))
    return run_balance(executor, BalanceConfig(out=str(out), t=t, seed=seed))


@pytest.fixture(scope="module")
def entries():
    return VOCAB + ["", "tree", "sunset beach"]


@pytest.fixture(scope="module")
def metadata(tmp_path_factory, entries):
    return write_metadata(tmp_path_factory.mktemp("meta") / "metadata.json", entries)


def curated_keys(out: Path) -> set[str]:
    return {r["key"] for r in read_dir(out / "curated")}


def test_spark_result_equals_library(executor, tmp_path, metadata, entries):
    rows = make_rows(600)
    pool = write_pool(tmp_path / "pool", rows, shards=3)
    card = curate(executor, pool, metadata, tmp_path / "out")
    matcher = Matcher(entries)
    expected = {f"http://img/{r['n']}.jpg": matcher.match(r["text"]) for r in rows}
    matched = read_dir(tmp_path / "out" / "matched")
    assert {r["url"]: r["entry_ids"] for r in matched} == {u: ids for u, ids in expected.items() if ids}
    assert all(r["n"] is not None and r["lang"] == "en" for r in matched)  # columns pass through
    counts = pq.read_table(tmp_path / "out" / "entry_counts.parquet").to_pylist()
    expected_counts = Counter(i for ids in expected.values() for i in ids)
    assert [c["count"] for c in counts] == [expected_counts[i] for i in range(len(entries))]
    assert [c["entry"] for c in counts] == entries
    assert json.loads((tmp_path / "out" / "entry_counts.json").read_text())["hot dog"] == expected_counts[2]
    assert card["matched_rows"] == sum(1 for ids in expected.values() if ids)
    assert card["curated_rows"] == len(read_dir(tmp_path / "out" / "curated")) < card["matched_rows"]


def test_same_subset_for_any_sharding_and_rerun(executor, tmp_path, metadata):
    rows = make_rows(500, seed=1)
    one = write_pool(tmp_path / "one", rows, shards=1)
    four = write_pool(tmp_path / "four", rows, shards=4, fmt="jsonl")
    curate(executor, one, metadata, tmp_path / "o1")
    curate(executor, four, metadata, tmp_path / "o4")
    curate(executor, four, metadata, tmp_path / "o4b")
    curate(executor, four, metadata, tmp_path / "o4s", seed=1)
    keys = curated_keys(tmp_path / "o1")
    assert 0 < len(keys) < 500
    assert curated_keys(tmp_path / "o4") == keys
    assert curated_keys(tmp_path / "o4b") == keys
    assert curated_keys(tmp_path / "o4s") != keys


def test_same_subset_on_one_core_through_the_command(executor, tmp_path, metadata):
    rows = make_rows(300, seed=2)
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    curate(executor, pool, metadata, tmp_path / "two_cores")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "curate", "--pool", str(pool), "--metadata",
                           str(metadata), "--out", str(tmp_path / "one_core"), "--t", "30", "--executor", "spark",
                           "--master", "local[1]", "--conf", "spark.ui.enabled=false"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "curated rows" in proc.stdout
    assert curated_keys(tmp_path / "one_core") == curated_keys(tmp_path / "two_cores")


def test_every_pool_row_is_accounted_for(executor, tmp_path, metadata):
    pool = tmp_path / "pool"
    pool.mkdir()
    lines = [json.dumps({"url": "u1", "text": "a dog"}), json.dumps({"url": "u2", "text": None}),
             json.dumps({"url": "u3", "text": ""}), "{broken", json.dumps({"url": "u5", "text": 5}),
             json.dumps({"text": "cat without url"}), json.dumps({"url": "u7", "text": "nothing here"})]
    (pool / "a.jsonl").write_text("\n".join(lines) + "\n")
    card = curate(executor, pool, metadata, tmp_path / "out")
    assert (card["pool_rows"], card["matched_rows"], card["unmatched_rows"], card["rejected_rows"]) == (7, 1, 3, 3)
    assert card["pool_rows"] == card["matched_rows"] + card["unmatched_rows"] + card["rejected_rows"]
    assert set(card["rejected_reasons"]) == {"invalid JSON (Expecting property name enclosed in double quotes)",
                                             "'text' is int, not a string", "no key and no url"}
    rejected = pq.read_table(tmp_path / "out" / "matched" / "_rejected" / "00000.parquet").to_pylist()
    assert [r["row"] for r in rejected] == [3, 4, 5] and rejected[0]["raw"] == "{broken"


def test_bad_input_gives_clear_errors(executor, tmp_path, metadata, caplog):
    assert cli.main(["curate", "--pool", str(tmp_path / "missing"), "--metadata", str(metadata),
                     "--out", str(tmp_path / "o")]) == 2
    assert "missing: input folder not found" in caplog.text
    pool = write_pool(tmp_path / "pool", make_rows(20), shards=1)
    (pool / "part-zzz.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="part-zzz.parquet: unreadable Parquet file"):
        run_match(executor, MatchConfig(pool=str(pool), metadata=str(metadata), out=str(tmp_path / "o2")))
    bad_meta = tmp_path / "bad.json"
    bad_meta.write_text('["ok", 1]')
    assert cli.main(["match", "--pool", str(pool), "--metadata", str(bad_meta), "--out", str(tmp_path / "o3")]) == 2
    assert "bad.json: entry 1 is int 1, not a string" in caplog.text


def test_rerun_resumes_and_refuses_other_metadata(executor, tmp_path, metadata, entries):
    pool = write_pool(tmp_path / "pool", make_rows(100), shards=2)
    cfg = MatchConfig(pool=str(pool), metadata=str(metadata), out=str(tmp_path / "out"))
    first = run_match(executor, cfg).stats
    assert [s["skipped"] for s in first] == [False, False]
    (tmp_path / "out" / "matched" / "_done" / "00001.json").unlink()
    again = run_match(executor, cfg).stats
    assert [s["skipped"] for s in again] == [True, False]
    other = write_metadata(tmp_path / "other.json", entries + ["extra"])
    with pytest.raises(LineageError, match="metadata_sha256"):
        run_match(executor, MatchConfig(pool=str(pool), metadata=str(other), out=str(tmp_path / "out")))
    run_match(executor, MatchConfig(pool=str(pool), metadata=str(other), out=str(tmp_path / "out"),
                                        overwrite=True))
    with pytest.raises(LineageError, match="metadata_sha256"):
        run_count(executor, CountConfig(out=str(tmp_path / "out"), metadata=str(metadata)))

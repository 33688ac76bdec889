"""A rerun into a run folder whose pool was edited or replaced redoes what the change touches
(the pool shards that changed; balancing wherever the counts or the per-image choice moved)
and gives what a fresh run on the new pool gives."""

import json

import pyarrow.parquet as pq
import pytest

from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool


def curated(out) -> list[dict]:
    return sorted((r["key"], r["text"]) for f in sorted((out / "curated").glob("*.parquet"))
                  for r in pq.read_table(f, columns=["key", "text"]).to_pylist())


def done_stamps(folder) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (folder / "_done").glob("*.json")}


@pytest.fixture
def run(tmp_path):
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "hot dog", "photo", "red"])

    def curate(pool, out, *extra):
        assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "8",
                         *extra]) == 0
        return json.loads((out / "datacard.json").read_text())
    return curate


@pytest.mark.parametrize("unit", ["image", "text"])
def test_an_edited_pool_shard_is_redone_and_the_result_is_the_new_pools(tmp_path, run, unit):
    rows = [{**r, "key": f"img{i % 70}"} for i, r in enumerate(make_rows(210, seed=12))]
    pool = write_pool(tmp_path / "pool", rows, shards=3)
    out = tmp_path / "out"
    run(pool, out, "--unit", unit)
    matched_before = done_stamps(out / "matched")
    # Shard 1 of the pool is edited in place: other texts, the same number of rows.
    edited = [{**r, "text": f"a red cat {i}"} for i, r in enumerate(rows[70:140])]
    pq.write_table(pq.read_table(pool / "part-001.parquet").from_pylist(edited), pool / "part-001.parquet")
    card = run(pool, out, "--unit", unit)
    matched_after = done_stamps(out / "matched")
    assert [n for n in matched_before if matched_before[n] != matched_after[n]] == ["00001.json"]
    fresh = tmp_path / "fresh"
    want = run(pool, fresh, "--unit", unit)
    assert curated(out) == curated(fresh) and card["curated_rows"] == want["curated_rows"]
    assert pq.read_table(out / "entry_counts.parquet").equals(pq.read_table(fresh / "entry_counts.parquet"))


def test_a_replaced_pool_is_redone_whole(tmp_path, run):
    first = write_pool(tmp_path / "pool", make_rows(120, seed=1), shards=2)
    out = tmp_path / "out"
    run(first, out)
    for f in first.glob("*.parquet"):
        f.unlink()
    write_pool(first, make_rows(120, seed=2), shards=2)  # another pool, the same shard names
    run(first, out)
    run(first, tmp_path / "fresh")
    assert curated(out) == curated(tmp_path / "fresh")

"""Pool shards: keys, rejects with reasons, and clear errors naming file and column."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.chain.pool import derive_key, read_pool_shard
from curation.core.errors import InputError


def test_parquet_keys_are_derived_from_url_when_absent(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"url": ["http://x/1.jpg", None], "text": ["a dog", "a cat"]}), path)
    shard = read_pool_shard(str(path))
    assert shard.table["key"].to_pylist() == [derive_key("http://x/1.jpg")]
    assert shard.rejected.to_pylist()[0]["reason"] == "no key and no url"
    assert shard.rejected.to_pylist()[0]["row"] == 1
    assert shard.rows == 2


def test_existing_keys_are_kept_and_extra_columns_pass_through(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"key": ["k1", None], "url": ["u1", "u2"], "caption": ["x", "y"], "w": [1, 2]}), path)
    shard = read_pool_shard(str(path), text_column="caption")
    assert shard.table["key"].to_pylist() == ["k1", derive_key("u2")]
    assert shard.table["w"].to_pylist() == [1, 2]


def test_jsonl_bad_rows_are_rejected_with_line_and_reason(tmp_path):
    path = tmp_path / "a.jsonl"
    lines = [json.dumps({"url": "u0", "text": "ok"}), "{not json", json.dumps({"url": "u2", "text": 7}),
             json.dumps({"url": "u3"}), json.dumps(["a"]), "", json.dumps({"url": "u6", "text": None})]
    path.write_text("\n".join(lines) + "\n")
    shard = read_pool_shard(str(path))
    assert shard.table["url"].to_pylist() == ["u0", "u6"]
    rejected = {r["row"]: r["reason"] for r in shard.rejected.to_pylist()}
    assert rejected[1].startswith("invalid JSON")
    assert rejected[2] == "'text' is int, not a string"
    assert rejected[3] == "no 'text' field"
    assert rejected[4] == "not a JSON object"
    assert shard.rows == 6  # the blank line is not a row


def test_missing_text_column_names_file_and_column(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"url": ["u"], "caption": ["x"]}), path)
    with pytest.raises(InputError, match=r"a\.parquet: no text column 'text' \(columns: url, caption\)"):
        read_pool_shard(str(path))


def test_non_string_text_column_and_missing_key_columns(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"url": ["u"], "text": [3]}), path)
    with pytest.raises(InputError, match="text column 'text' has type int64"):
        read_pool_shard(str(path))
    pq.write_table(pa.table({"text": ["x"]}), path)
    with pytest.raises(InputError, match="needs a 'key' or a 'url' column"):
        read_pool_shard(str(path))


def test_unreadable_parquet_names_the_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="broken.parquet: unreadable Parquet file"):
        read_pool_shard(str(path))

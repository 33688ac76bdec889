"""Hostile inputs to the library: each a clear error or a counted reject, never a traceback
or silently altered data. Regression tests of the hardening issue, plus a property test."""

import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.chain.pool import read_pool_shard
from curation.core.errors import CurationError, InputError, LineageError
from curation.core.shards import Shard, ShardOutput, ShardStage, run_shard
from curation.matching import Matcher, fastmatch
from curation.matching.cache import load_or_build, private_folder


def test_a_text_with_thousands_of_matches_is_sorted_and_unique():
    entries = [f"w{i}" for i in range(500)]
    text = " ".join(f"w{i}" for i in reversed(range(500))) * 3
    assert Matcher(entries).match(text) == list(range(500))


def jsonl(path, lines: list[str], prefix: bytes = b"", newline: bytes = b"\n"):
    path.write_bytes(prefix + newline.join(line.encode("utf-8", "surrogatepass") for line in lines) + newline)
    return path


def test_jsonl_line_separators_inside_strings_bom_and_crlf(tmp_path):
    rows = [{"key": "a", "text": "a cat\u2028on a mat"}, {"key": "b", "text": "dog\u0085\u2029x"}]
    path = jsonl(tmp_path / "p.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows], prefix=b"\xef\xbb\xbf",
                 newline=b"\r\n")
    shard = read_pool_shard(str(path))
    assert shard.table.to_pylist() == rows and shard.rejected.num_rows == 0


def test_lone_surrogate_and_mixed_types_reject_only_their_rows(tmp_path):
    lines = ['{"key": "a", "text": "a cat \\ud800"}', '{"key": "b", "text": "a dog", "n": 1}',
             '{"key": "c", "text": "a \\ud83d\\ude00 cow", "n": "one"}', '{"key": "d", "text": "ok", "n": 2.5}',
             '{"key": "e", "text": "x", "tags": [1, 2]}', '{"key": "f", "text": "y", "tags": [{"a": 1}]}']
    shard = read_pool_shard(str(jsonl(tmp_path / "p.jsonl", lines)))
    assert [r["key"] for r in shard.table.to_pylist()] == ["b", "d", "e"]
    reasons = {r["row"]: r["reason"] for r in shard.rejected.to_pylist()}
    assert set(reasons) == {0, 2, 5} and "lone surrogate" in reasons[0]
    assert "field 'n' is str, earlier rows have number" == reasons[2]
    assert shard.rows == 6


def test_parquet_column_types(tmp_path):
    text = pa.array(["a cat", "a dog"]).dictionary_encode()
    pq.write_table(pa.table({"key": ["1", "2"], "text": text}), tmp_path / "dict.parquet")
    assert read_pool_shard(str(tmp_path / "dict.parquet")).table["text"].to_pylist() == ["a cat", "a dog"]
    view = pa.table({"key": ["1"], "text": pa.array(["a cow"], pa.string_view())})
    assert read_pool_shard_from_table(tmp_path, view)["text"].to_pylist() == ["a cow"]
    pq.write_table(pa.table({"key": [{"a": 1}], "text": ["x"]}), tmp_path / "struct.parquet")
    with pytest.raises(InputError, match=r"struct.parquet: column 'key' has type struct"):
        read_pool_shard(str(tmp_path / "struct.parquet"))


def read_pool_shard_from_table(tmp_path, table):
    # string_view columns come back from Parquet as strings; build the shard from memory.
    from curation.chain.pool import _check_text_column

    return _check_text_column(table, "mem", "text")


def test_planted_and_tampered_indexes_are_rebuilt(tmp_path):
    folder = private_folder(str(tmp_path / "cache"))
    entries = ["dog", "cat", "hot dog"]
    key = "k"
    path = os.path.join(folder, f"{key}-metaclip-v2-{fastmatch.MAGIC.decode()}.idx")
    Matcher(["cat", "dog", "hot dog"], "metaclip-v2").save(path)  # another list, planted under the key
    matcher = load_or_build(entries, "metaclip-v2", key, folder)
    assert matcher.entries == entries and matcher.match("a hot dog") == [0, 2]
    raw = bytearray(open(path, "rb").read())
    raw[-64:-32] = b"\xff" * 32  # flip bytes of the tables: the digest no longer matches
    open(path, "wb").write(bytes(raw))
    with pytest.raises(ValueError, match="damaged matcher index"):
        Matcher.load(path)
    assert load_or_build(entries, "metaclip-v2", key, folder).match("a dog, a cat") == [0, 1]
    open(path, "wb").write(bytes(raw[: len(raw) // 2]))  # truncated
    assert load_or_build(entries, "metaclip-v2", key, folder).match("hot dog") == [0, 2]


def test_structural_checks_catch_out_of_range_ids():
    m = Matcher(["dog", "cat", "big dog"])
    arrays = {k: np.array(v) for k, v in m._arrays.items()}
    fastmatch.check_arrays(arrays, 3)
    with pytest.raises(ValueError, match="out of range"):
        fastmatch.check_arrays(arrays, 2)  # an index of a longer list than the metadata
    arrays["tok_off"][-1] += 5
    with pytest.raises(ValueError, match="tok_off"):
        fastmatch.check_arrays(arrays, 3)


def test_cache_folder_must_be_private(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(CurationError, match="writable by other users"):
        private_folder(str(shared))
    if os.getuid() == 0:  # as root, hand a folder to another user
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        os.chown(other, 65534, 65534)
        with pytest.raises(CurationError, match="belongs to another user"):
            private_folder(str(other))
    fresh = tmp_path / "fresh"
    private_folder(str(fresh))
    assert (os.stat(fresh).st_mode & 0o777) == 0o700


class Echo(ShardStage):
    name = "echo"

    def process(self, shard):
        return ShardOutput({f"{self.out_dir}/{shard.name}.parquet": pa.table({"x": [1, 2, 3]})}, {"rows": 3})


def test_damaged_outputs_and_markers_are_redone(tmp_path):
    stage = Echo(str(tmp_path / "s"), {"p": 1})
    first = run_shard(stage, Shard("00000"))
    assert not first.skipped and first.stats["outputs"]["00000.parquet"]["bytes"] > 0
    assert run_shard(stage, Shard("00000")).skipped
    data = (tmp_path / "s" / "00000.parquet").read_bytes()
    (tmp_path / "s" / "00000.parquet").write_bytes(data[:-10])  # truncated, marker intact
    assert not run_shard(stage, Shard("00000")).skipped
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF  # same size, other bytes
    (tmp_path / "s" / "00000.parquet").write_bytes(bytes(corrupt))
    assert not run_shard(stage, Shard("00000")).skipped
    (tmp_path / "s" / "_done" / "00000.json").write_text('{"shard": "000')  # truncated marker
    assert not run_shard(stage, Shard("00000")).skipped
    assert pq.read_table(tmp_path / "s" / "00000.parquet")["x"].to_pylist() == [1, 2, 3]


def test_claim_is_atomic_between_racing_runs(tmp_path):
    outcomes = []

    def claim(seed):
        try:
            Echo(str(tmp_path / "race"), {"seed": seed}).claim({"shards": 1})
            outcomes.append(("claimed", seed))
        except LineageError:
            outcomes.append(("refused", seed))

    for _ in range(5):
        (tmp_path / "race").mkdir(exist_ok=True)
        for f in (tmp_path / "race").iterdir():
            f.unlink()
        outcomes.clear()
        threads = [threading.Thread(target=claim, args=(seed,)) for seed in (1, 2, 3, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(kind for kind, _ in outcomes) == ["claimed", "refused", "refused", "refused"]
        winner = next(seed for kind, seed in outcomes if kind == "claimed")
        assert json.loads((tmp_path / "race" / "_manifest.json").read_text())["params"] == {"seed": winner}


def test_report_thumbnail_of_a_huge_image_is_skipped():
    import struct
    import zlib

    from curation.report.plots import thumbnail

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    size = 30_000
    raw = zlib.compressobj(9)
    row = b"\x00" * (1 + size // 8)
    body = b"".join(raw.compress(row) for _ in range(size)) + raw.flush()
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    assert thumbnail(png) is None


# Hostile pools: random JSON values per column, random Unicode (surrogates, separators),
# empty and long values. Every shard is either refused with a clear error before matching
# or read with every row accounted for.
values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                   st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
                   st.text(alphabet="a cat dog\u2028\u0085\r\t,.", max_size=200),
                   st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
rows = st.lists(st.dictionaries(st.sampled_from(["key", "url", "text", "lang", "x"]), values, max_size=5),
                max_size=12)


@settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, broken=st.sampled_from(["", "{not json", "[1, 2]", "\ufeff{}"]))
def test_hostile_pools_are_accounted_for(tmp_path, rows, broken):
    from curation.chain.config import MatchConfig
    from curation.chain.run import match_stage
    from curation.core.executor import LocalExecutor

    lines = [json.dumps(r) for r in rows] + ([broken] if broken else [])
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "pool").mkdir()
    jsonl(folder / "pool" / "p.jsonl", lines)
    meta = folder / "m.json"
    meta.write_text('["cat", "dog", "a"]')
    from curation.matching.metadata_io import load_metadata

    cfg = MatchConfig(pool=str(folder / "pool"), metadata=str(meta), out=str(folder / "out"))
    stage = match_stage(cfg, load_metadata(str(meta)))
    try:
        result = LocalExecutor(workers=1).run_stage(stage, stage.plan())
    except InputError as exc:
        assert str(folder) in str(exc)  # a clear error naming the file
        return
    stats = result.stats[0]
    assert stats["pool_rows"] == stats["matched_rows"] + stats["unmatched_rows"] + stats["rejected_rows"]
    assert stats["pool_rows"] == len(lines) - sum(1 for line in lines if not line.strip())

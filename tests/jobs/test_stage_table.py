"""A new stage is one file and one line: a filter between match and balance, registered in
the stage table, runs from ``curate curate``, resumes per shard, shows in ``curate status``
and is accounted for in the data card."""

import json

import pyarrow.parquet as pq
import pytest

from curation import pipeline
from curation.stages import BalanceStage
from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool
from tests.jobs.length_filter import LengthFilter


@pytest.fixture
def with_length_filter(monkeypatch):
    stages = list(pipeline.STAGES)
    stages.insert(stages.index(BalanceStage), LengthFilter)  # the one line
    monkeypatch.setattr(pipeline, "STAGES", stages)


def rows_of(folder):
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_registered_filter_runs_resumes_and_is_accounted_for(spark, tmp_path, with_length_filter, capsys):
    pool = write_pool(tmp_path / "pool", make_rows(300, seed=5), shards=3)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "hot dog", "photo", "logo", "red"])
    out = tmp_path / "out"
    args = ["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "20",
            "--min-chars", "10"]
    assert cli.main(args) == 0
    card = json.loads((out / "datacard.json").read_text())
    matched, kept = rows_of(out / "matched"), rows_of(out / "length")
    dropped = rows_of(out / "length" / "_dropped")
    assert dropped and all(len(r["text"]) < 10 and r["reason"] == "too_short" for r in dropped)
    assert all(len(r["text"]) >= 10 for r in kept)
    assert sorted(r["n"] for r in kept + dropped) == sorted(r["n"] for r in matched)  # nothing lost
    assert card["dropped_reasons"] == {"length:too_short": len(dropped)} == {"length:too_short": card["dropped_rows"]}
    assert card["matched_rows"] == card["dropped_rows"] + card["balance_input_rows"] == len(matched)
    assert card["pool_rows"] == card["matched_rows"] + card["unmatched_rows"] + card["rejected_rows"] == 300
    assert {r["n"] for r in rows_of(out / "curated")} <= {r["n"] for r in kept}
    counts = pq.read_table(out / "entry_counts.parquet")["count"].to_pylist()
    assert sum(counts) == sum(len(r["entry_ids"]) for r in kept)  # counted after the filter
    assert card["length"]["min_chars"] == 10  # the stage's config is in the lineage
    assert "Filter stages" in (out / "report.html").read_text()
    capsys.readouterr()

    # Resume: only the shard whose done marker is gone is redone; the output is the same.
    before = {p.name: p.stat().st_mtime_ns for p in (out / "length").glob("*.parquet")}
    (out / "length" / "_done" / "00001.json").unlink()
    assert cli.main(["status", "--out", str(out)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert list(status)[:4] == ["out", "match", "length", "balance"]
    assert status["length"]["missing"] == ["00001"] and status["length"]["shards_total"] == 3
    curated = sorted(r["key"] for r in rows_of(out / "curated"))
    assert cli.main(args) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "length").glob("*.parquet")}
    assert [n for n in before if before[n] != after[n]] == ["00001.parquet"]
    assert sorted(r["key"] for r in rows_of(out / "curated")) == curated
    assert json.loads((out / "datacard.json").read_text())["dropped_rows"] == card["dropped_rows"]

    # Another filter setting is refused on the same run folder, naming the stage's marker.
    assert cli.main([*args[:-1], "12"]) == 2

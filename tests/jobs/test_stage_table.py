"""A new stage is one file and one line: a filter between match and count, registered in
the stage registry, runs from ``curate curate``, resumes per shard, shows in ``curate status``
and is accounted for in the data card; a stage in the wrong place is refused."""

import json

import pyarrow.parquet as pq
import pytest

from curation.chain.stages import BalanceStage, FilterStage
from curation.core.errors import CurationError
from curation.registry import REGISTRY
from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool
from tests.jobs.length_filter import LengthFilter
from tests.jobs.tar_digests import TarDigests


@pytest.fixture
def with_length_filter():
    REGISTRY.register(LengthFilter)  # the one line
    yield
    REGISTRY.unregister(LengthFilter.name)


def rows_of(folder):
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_registered_filter_runs_resumes_and_is_accounted_for(executor, tmp_path, with_length_filter, capsys):
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


def test_a_stage_in_the_wrong_place_is_refused():
    class LateFilter(FilterStage):
        name = "late"
        phase = "balance"

        def reasons(self, table):
            return [None] * table.num_rows

    class NotAFilter(BalanceStage):
        name = "not-a-filter"
        phase = "filter"

    class Nowhere(BalanceStage):
        name = "nowhere"
        phase = "after-lunch"

    for cls, message in ((LateFilter, "runs between match and count"), (NotAFilter, "only a FilterStage"),
                         (Nowhere, "is not one of")):
        with pytest.raises(CurationError, match=message):
            REGISTRY.register(cls)
        assert cls.name not in REGISTRY.names()


@pytest.fixture
def with_tar_digests():
    REGISTRY.register(TarDigests)  # the one line
    yield
    REGISTRY.unregister(TarDigests.name)


def test_a_stage_after_export_gets_its_command(tmp_path, with_tar_digests, capsys):
    import hashlib
    import tarfile

    from tests.jobs.test_export import png

    rows = [{**row, "image": png(("red", "green", "blue")[i % 3], (8 + i % 5, 6))}
            for i, row in enumerate(make_rows(120, seed=3))]
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "photo"])
    run, tars, out = tmp_path / "run", tmp_path / "tars", tmp_path / "digests"
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(run), "--t", "20"]) == 0
    assert cli.main(["export", "--curated", str(run), "--out", str(tars), "--samples-per-tar", "15"]) == 0
    capsys.readouterr()
    args = ["tar-digests", "--export", str(tars), "--out", str(out)]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in tars.glob("*.tar"))
    assert summary["shards"] == len(names) >= 2 and summary["members"] > 0
    for i, name in enumerate(names):
        with tarfile.open(tars / name) as tar:
            want = {m.name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for m in tar if m.isfile()}
        table = pq.read_table(out / f"{i:05d}.parquet").to_pylist()
        assert {r["member"]: r["digest"] for r in table} == want
    assert summary["members"] == sum(len(pq.read_table(p)) for p in out.glob("*.parquet"))
    # Resume, status and lineage work as for every stage.
    (out / "_done" / "00001.json").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    assert cli.main(args) == 0
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    assert [n for n in before if before[n] != after[n]] == ["00001.parquet"]
    capsys.readouterr()
    assert cli.main(["status", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["tar-digests"]["complete"]
    assert cli.main([*args, "--algorithm", "md5"]) == 2  # another lineage into the same folder
    assert cli.main([*args, "--algorithm", "md5", "--overwrite"]) == 0

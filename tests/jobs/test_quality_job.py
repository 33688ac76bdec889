"""`curate quality` on Spark, and the quality options of `curate curate`: --min-quality as
its own accounted reason, --prefer-quality in the per-image choice."""

import json
import random

import pyarrow.parquet as pq
import pytest

from curation.core.hashing import coin_hash
from jobs import cli
from tests.helpers import write_metadata, write_pool
from tests.jobs.test_per_image import ENTRIES, curated, image_rows


@pytest.fixture(scope="module")
def meta(tmp_path_factory):
    return write_metadata(tmp_path_factory.mktemp("m") / "m.json", ENTRIES)


def test_quality_scores_every_shard_under_its_own_name(executor, tmp_path, capsys):
    rows = [{"url": f"http://h/{i}.jpg", "text": t, "lang": lang, "extra": i} for i, (t, lang) in enumerate([
        ("A red car on the beach", "en"), ("DSC_0042.jpg", "en"), (None, "en"), ("Ein Hund im Garten", "de"),
        ("Bild 3", "de"), ("click here", "en")])]
    write_pool(tmp_path / "pool", rows[:3], fmt="parquet")
    (tmp_path / "pool" / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[3:]) + "{bad\n")
    capsys.readouterr()
    assert cli.main(["quality", "--pool", str(tmp_path / "pool"), "--out", str(tmp_path / "scored")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pool_rows"] == 7 and summary["scored_rows"] == 5 and summary["rejected_rows"] == 2
    assert summary["rejected_reasons"] == {"no_text": 1, "invalid JSON (Expecting property name enclosed in "
                                                      "double quotes)": 1}
    assert sorted(p.name for p in (tmp_path / "scored").glob("*.parquet")) == ["more.parquet", "part-000.parquet"]
    scored = {r["text"]: r for p in sorted((tmp_path / "scored").glob("*.parquet"))
              for r in pq.read_table(p).to_pylist()}
    assert scored["A red car on the beach"]["quality"] == scored["Ein Hund im Garten"]["quality"] == 1.0
    assert scored["DSC_0042.jpg"]["quality"] < scored["click here"]["quality"] < 1.0
    assert scored["Bild 3"]["quality"] < 1.0 and scored["Bild 3"]["extra"] == 4
    capsys.readouterr()
    assert cli.main(["status", "--out", str(tmp_path / "scored")]) == 0
    status = json.loads(capsys.readouterr().out)["quality"]
    assert status["complete"] and status["shards_done"] == 2 and status["rows_done"] == 7
    rejected = pq.read_table(tmp_path / "scored" / "_rejected" / "part-000.parquet").to_pylist()
    assert [r["reason"] for r in rejected] == ["no_text"]
    # The scored folder is a pool: curate reads it, and --min-quality uses its quality column.
    write_metadata(tmp_path / "m.json", ["car", "beach", "DSC", "Hund", "Bild", "click"])
    assert cli.main(["curate", "--pool", str(tmp_path / "scored"), "--metadata", str(tmp_path / "m.json"), "--out",
                     str(tmp_path / "run"), "--min-quality", "0.99", "--t", "10"]) == 0
    card = json.loads((tmp_path / "run" / "datacard.json").read_text())
    # --min-quality is a filter stage after match: it scores the matched rows and drops the low ones.
    assert (card["pool_rows"], card["matched_rows"], card["unmatched_rows"]) == (5, 4, 1)
    assert (card["low_quality_rows"], card["balance_input_rows"]) == (2, 2)
    assert card["dropped_reasons"] == {"min-quality:low_quality": 2}
    assert sum(sum(h) for h in card["quality_histograms"].values()) == card["matched_rows"]


def test_min_quality_uses_the_pool_column_and_scores_its_gaps(executor, tmp_path, meta):
    rows = [{"key": f"k{i}", "url": f"http://h/{i}", "text": "a red dog on the beach", "quality": q}
            for i, q in enumerate([0.1, 0.9, None, 0.5])]
    pool = write_pool(tmp_path / "pool", rows)
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "run"),
                     "--min-quality", "0.6", "--t", "10"]) == 0
    kept = sorted(r["key"] for r in curated(tmp_path / "run"))
    assert kept == ["k1", "k2"]  # k2 had no score: scored here (descriptive: 1.0)
    low = pq.read_table(tmp_path / "run" / "min_quality" / "_dropped").to_pylist()
    assert sorted((r["key"], r["quality"], r["reason"]) for r in low) == [("k0", 0.1, "low_quality"),
                                                                         ("k3", 0.5, "low_quality")]


def quality_rows(seed: int) -> list[dict]:
    rows = image_rows(60, seed)
    rng = random.Random(seed)
    for r in rows:
        r["quality"] = rng.choice([0.2, 0.5, 0.8, 0.8, 1.0])
    return rows


def best_by_quality(rows: list[dict], seed: int) -> dict:
    """The per-image choice with --prefer-quality, written out: highest quality, then the hash."""
    from curation.matching import Matcher

    matcher = Matcher(ENTRIES)
    best: dict = {}
    for order, r in enumerate(rows):
        if matcher.match(r["text"]):
            rank = (-r["quality"], coin_hash(seed, r["key"] + "\x00" + r["text"]), order)
            if r["key"] not in best or rank < best[r["key"]][0]:
                best[r["key"]] = (rank, r)
    return {key: r["text"] for key, (_, r) in best.items()}


def test_prefer_quality_chooses_the_best_scored_alt_text_for_any_sharding(executor, tmp_path, meta):
    rows = quality_rows(3)
    want = best_by_quality(rows, 7)
    results = []
    for shards in (1, 4):
        pool = write_pool(tmp_path / f"pool{shards}", rows, shards=shards)
        out = tmp_path / f"run{shards}"
        assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "1000",
                         "--seed", "7", "--prefer-quality"]) == 0
        results.append({r["key"]: r["text"] for r in curated(out)})
    assert results[0] == results[1] == want  # t above every count: every chosen alt-text is kept
    plain = tmp_path / "plain"
    assert cli.main(["curate", "--pool", str(tmp_path / "pool1"), "--metadata", str(meta), "--out", str(plain),
                     "--t", "1000", "--seed", "7"]) == 0
    assert {r["key"]: r["text"] for r in curated(plain)} != want  # the option changes the choice


def test_quality_options_give_clear_errors(executor, tmp_path, meta, caplog):
    pool = write_pool(tmp_path / "pool", image_rows(10), shards=2)
    base = ["curate", "--pool", str(pool), "--metadata", str(meta), "--t", "5"]
    assert cli.main([*base, "--out", str(tmp_path / "a"), "--min-quality", "1.5"]) == 2
    assert "--min-quality 1.5: must be a score in [0, 1]" in caplog.text
    assert cli.main([*base, "--out", str(tmp_path / "b"), "--prefer-quality"]) == 2
    assert "--prefer-quality needs a quality column" in caplog.text
    assert cli.main([*base, "--out", str(tmp_path / "c"), "--prefer-quality", "--unit", "text"]) == 2
    assert "it needs --unit image" in caplog.text


def test_a_quality_column_that_is_not_a_number_is_a_clear_error(executor, tmp_path, meta, caplog):
    rows = [{"key": f"k{i}", "url": f"http://h/{i}", "text": "a red dog", "quality": q}
            for i, q in enumerate(["high", "0.2"])]
    pool = write_pool(tmp_path / "pool", rows)
    base = ["curate", "--pool", str(pool), "--metadata", str(meta), "--t", "5"]
    assert cli.main([*base, "--out", str(tmp_path / "a"), "--min-quality", "0.5"]) == 2
    assert "column 'quality' is string, not a number" in caplog.text and "part-000.parquet" in caplog.text
    caplog.clear()
    assert cli.main([*base, "--out", str(tmp_path / "b"), "--prefer-quality"]) == 2
    assert "column 'quality' is string, not a number" in caplog.text

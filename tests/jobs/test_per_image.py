"""Per-image curation (Meta CLIP 2): one alt-text chosen per image over every shard, one
decision per image; the same subset for any sharding; ``--unit text`` is MetaCLIP 1."""

import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.chain.balancing import entry_probabilities, keep_probability
from curation.core.hashing import coin, coin_hash
from curation.matching import Matcher
from jobs import cli
from tests.helpers import write_metadata, write_pool

ENTRIES = ["dog", "cat", "hot dog", "photo", "logo", "red", "car", "beach"]


def image_rows(n_images: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    words = ENTRIES + ["a", "the", "on", "my", "old", "blue"]
    rows = []
    for i in range(n_images):
        for j in range(rng.choice([1, 1, 2, 3, 5])):
            rows.append({"key": f"img{i:04d}", "url": f"http://h/{i}.jpg", "text": " ".join(rng.choices(words, k=4)),
                         "alt": j})
    rng.shuffle(rows)  # an image's alt-texts land in different shards
    return rows


def reference(rows: list[dict], t: float, seed: int) -> set[tuple[str, str]]:
    """DESIGN.md's per-image rule, written out directly."""
    matcher = Matcher(ENTRIES)
    matched = [(r, matcher.match(r["text"])) for r in rows]
    counts = np.zeros(len(ENTRIES), np.int64)
    for _, ids in matched:
        counts[ids] += 1
    p = entry_probabilities(counts, t)
    best: dict = {}
    for order, (r, ids) in enumerate(matched):
        if ids:
            rank = (coin_hash(seed, r["key"] + "\x00" + r["text"]), order)
            if r["key"] not in best or rank < best[r["key"]][0]:
                best[r["key"]] = (rank, r, ids)
    return {(r["key"], r["text"]) for _, r, ids in best.values() if coin(seed, r["key"]) < keep_probability(ids, p)}


def curated(out) -> list[dict]:
    return [r for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def meta(tmp_path_factory):
    return write_metadata(tmp_path_factory.mktemp("m") / "m.json", ENTRIES)


def run(tmp_path, meta, rows, shards, name, *flags):
    pool = write_pool(tmp_path / f"{name}-pool", rows, shards=shards)
    out = tmp_path / name
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out), "--t", "25",
                     "--seed", "7", *flags]) == 0
    return out


def test_one_row_per_image_the_same_for_any_sharding(executor, tmp_path, meta):
    rows = image_rows(300)
    results = {}
    for shards in (1, 4, 7):
        out = run(tmp_path, meta, rows, shards, f"s{shards}")
        got = curated(out)
        assert len({r["key"] for r in got}) == len(got)  # at most one row per image
        results[shards] = {(r["key"], r["text"]) for r in got}
    assert results[1] == results[4] == results[7] == reference(rows, 25, 7)
    card = json.loads((tmp_path / "s4" / "datacard.json").read_text())
    assert card["unit"] == "image" and card["curated_images"] == card["curated_rows"] == len(results[4])
    matched_images = {r["key"] for r in rows if Matcher(ENTRIES).match(r["text"])}
    assert card["balance_input_images"] == len(matched_images)
    assert card["pool_rows"] == len(rows)  # counts stay per alt-text
    counts = pq.read_table(tmp_path / "s4" / "entry_counts.parquet")["count"].to_pylist()
    assert sum(counts) == sum(len(Matcher(ENTRIES).match(r["text"])) for r in rows)


def test_an_image_with_three_alt_texts_in_three_shards(executor, tmp_path, meta):
    rows = [{"key": "same", "url": "http://h/s.jpg", "text": text} for text in ("a red dog", "a cat photo", "red car")]
    rows += [{"key": f"o{i}", "url": f"http://h/{i}.jpg", "text": "a dog"} for i in range(3)]
    order = [0, 3, 1, 4, 2, 5]  # one alt-text of "same" in each of three shards
    out = run(tmp_path, meta, [rows[i] for i in order], 3, "three", "--t", "1000")
    got = [r for r in curated(out) if r["key"] == "same"]
    chosen = min(rows[:3], key=lambda r: coin_hash(7, "same\x00" + r["text"]))
    assert [r["text"] for r in got] == [chosen["text"]]  # t is large: the image is kept, with its chosen text


def test_unit_text_is_one_decision_per_row(executor, tmp_path, meta):
    rows = image_rows(200, seed=3)
    out = run(tmp_path, meta, rows, 3, "text", "--unit", "text")
    got = curated(out)
    assert len({r["key"] for r in got}) < len(got)  # several alt-texts of one image kept
    card = json.loads((out / "datacard.json").read_text())
    assert card["unit"] == "text" and "curated_images" not in card


def test_rerun_with_another_unit_is_refused(executor, tmp_path, meta, caplog):
    rows = image_rows(50, seed=4)
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    base = ["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"), "--t", "5"]
    assert cli.main(base) == 0
    assert cli.main([*base, "--unit", "text"]) == 2 and "unit" in caplog.text


def test_a_missing_image_column_is_a_clear_error(executor, tmp_path, meta, caplog):
    pool = write_pool(tmp_path / "pool", image_rows(20), shards=2)
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"),
                     "--image-column", "photo_id"]) == 2
    assert "no image column 'photo_id'" in caplog.text and "nor in 1 other shards" in caplog.text

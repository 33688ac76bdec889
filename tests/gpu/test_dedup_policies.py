"""Balance-aware dedup (`curate dedup --run --keep rarest|centroid|first`) on planted groups:
of each group of near-copies exactly one matched a tail entry, the others head entries only."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.core.errors import InputError
from curation.gpu.config import DedupConfig
from jobs import cli

HEAD = ["cat", "dog", "car"]
TAILS = 20
T = 100
DIM = 16


def write_run(folder: Path) -> None:
    """A finished run's entry counts and data card: three head entries, 20 tail ones."""
    entries = HEAD + [f"tail-{i}" for i in range(TAILS)]
    counts = [5000, 4000, 3000] + [3] * TAILS
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"entry_id": pa.array(range(len(entries)), pa.int32()), "entry": entries,
                             "count": pa.array(counts, pa.int64())}), folder / "entry_counts.parquet")
    (folder / "datacard.json").write_text(json.dumps({"t": T, "entries": len(entries)}))


def planted(seed: int = 0):
    """20 groups of 3 near-copies and 150 singletons, with a common offset so that the set's
    centre is one direction. In each group the tail copy is last in input order and leans
    toward the centre (the most prototypical copy), so `first` and `centroid` both drop it."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(DIM)
    centre[0] = 1.0
    rows = []  # (vector, entry_ids, quality, group)
    for g in range(TAILS):
        base = rng.normal(size=DIM)
        base = base / np.linalg.norm(base) + 0.8 * centre
        for copy in range(3):
            lean = 0.02 if copy == 2 else -0.02
            ids = [rng.integers(0, 3), 3 + g] if copy == 2 else [int(rng.integers(0, 3))]
            rows.append((base + lean * centre + 1e-4 * rng.normal(size=DIM), [int(i) for i in ids], 0.9, g))
    for _ in range(150):
        base = rng.normal(size=DIM)
        rows.append((base / np.linalg.norm(base) + 0.8 * centre, [int(rng.integers(0, 3))], None, -1))
    return _group_order(rows, rng)


def _group_order(rows, rng):
    """Shuffle, then put each group's copies back in planted order at their group's places."""
    rows = [rows[i] for i in rng.permutation(len(rows))]
    by_group: dict = {}
    for r in rows:
        by_group.setdefault(r[3], []).append(r)
    copies = {g: iter(sorted(rs, key=lambda r: r[1][-1] >= 3)) for g, rs in by_group.items() if g >= 0}
    return [next(copies[r[3]]) if r[3] >= 0 else r for r in rows]


def write_embeddings(folder: Path, rows, parts: int) -> list[str]:
    vectors = np.array([r[0] for r in rows])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16)
    keys = [f"k{i:04d}" for i in range(len(rows))]
    (folder / "img_emb").mkdir(parents=True)
    (folder / "metadata").mkdir(parents=True)
    for p, rows_of_part in enumerate(np.array_split(np.arange(len(rows)), parts)):
        np.save(folder / "img_emb" / f"img_emb_{p}.npy", vectors[rows_of_part])
        pq.write_table(pa.table({
            "key": [keys[i] for i in rows_of_part], "url": [None] * len(rows_of_part),
            "text": ["x"] * len(rows_of_part), "similarity": pa.array([0.3] * len(rows_of_part), pa.float32()),
            "entry_ids": pa.array([rows[i][1] for i in rows_of_part], pa.list_(pa.int32())),
            "quality": pa.array([rows[i][2] for i in rows_of_part], pa.float32())}),
            folder / "metadata" / f"metadata_{p}.parquet")
    return keys


def dedup(tmp_path: Path, name: str, parts: int, *extra) -> tuple[dict, Path]:
    rows = planted()
    keys = write_embeddings(tmp_path / f"emb-{name}", rows, parts)
    out = tmp_path / f"keep-{name}"
    assert cli.main(["dedup", "--embeddings", str(tmp_path / f"emb-{name}"), "--out", str(out), "--threshold",
                     "0.99", "--cluster-size", "60", "--run", str(tmp_path / "run"), *extra]) == 0
    table = {r["key"]: r["keep"] for r in pq.read_table(out).to_pylist()}
    tail_keys = {keys[i] for i, r in enumerate(rows) if r[1][-1] >= 3}
    return {"keep": table, "tail_keys": tail_keys}, out


@pytest.fixture
def run(tmp_path):
    write_run(tmp_path / "run")
    return tmp_path / "run"


def test_rarest_keeps_every_tail_copy_and_the_others_lose_them(tmp_path, run):
    got, out = dedup(tmp_path, "rarest", 3, "--compare")
    assert all(got["keep"][k] for k in got["tail_keys"])  # the default with --run is rarest
    assert sum(not v for v in got["keep"].values()) == 2 * TAILS
    block = json.loads((run / "datacard.json").read_text())["dedup"][str(out)]
    assert block == json.loads((out / "_dedup_card.json").read_text()) and block["policy"] == "rarest"
    by_policy = {p["policy"]: p for p in block["policies"]}
    assert set(by_policy) == {"rarest", "centroid", "first"}
    for policy, figures in by_policy.items():
        assert figures["duplicate_groups"] == TAILS and figures["removed_rows"] == 2 * TAILS, policy
        assert figures["tail_entries"] == figures["tail_covered_before"] == TAILS
    assert by_policy["rarest"]["tail_covered_after"] == TAILS and by_policy["rarest"]["entries_emptied"] == 0
    # Input order keeps the first copy; SemDeDup's rule the one farthest from the centre.
    for policy in ("first", "centroid"):
        assert by_policy[policy]["tail_covered_after"] == 0 and by_policy[policy]["entries_emptied"] == TAILS
        drops = by_policy[policy]["largest_drops"]
        assert len(drops) == 10 and all(d["before"] > d["after"] for d in drops)
    for policy in ("first", "centroid"):
        other, _ = dedup(tmp_path, policy, 3, "--keep", policy)
        assert not any(other["keep"][k] for k in other["tail_keys"]), policy


@pytest.mark.parametrize("policy", ["rarest", "centroid", "first"])
def test_the_keep_list_does_not_depend_on_the_parts(tmp_path, run, policy):
    lists = [dedup(tmp_path, f"{policy}-{parts}", parts, "--keep", policy)[0]["keep"] for parts in (1, 3, 7)]
    assert lists[0] == lists[1] == lists[2]
    assert sum(not v for v in lists[0].values()) == 2 * TAILS


def test_policy_options_are_checked(tmp_path):
    with pytest.raises(InputError, match="--keep 'rarest': needs --run RUN"):
        DedupConfig(embeddings="e", out="o", keep="rarest")
    with pytest.raises(InputError, match="--compare True: needs --run RUN"):
        DedupConfig(embeddings="e", out="o", compare=True)
    assert DedupConfig(embeddings="e", out="o").policy == "first"
    assert DedupConfig(embeddings="e", out="o", run="r").policy == "rarest"
    # Embeddings without entry ids (an older embed) cannot be deduplicated by what they matched.
    write_run(tmp_path / "run")
    folder = tmp_path / "emb"
    write_embeddings(folder, planted(), 1)
    table = pq.read_table(folder / "metadata" / "metadata_0.parquet").drop(["entry_ids"])
    pq.write_table(table, folder / "metadata" / "metadata_0.parquet")
    assert cli.main(["dedup", "--embeddings", str(folder), "--out", str(tmp_path / "k"), "--run",
                     str(tmp_path / "run")]) == 2
    assert cli.main(["dedup", "--embeddings", str(folder), "--out", str(tmp_path / "k2"), "--run",
                     str(tmp_path / "nowhere")]) == 2
    # Entry ids the run does not have (embeddings of another run) stop the run, naming the part.
    other = tmp_path / "emb-other"
    rows = [(r[0], [999], r[2], r[3]) for r in planted()]
    write_embeddings(other, rows, 1)
    assert cli.main(["dedup", "--embeddings", str(other), "--out", str(tmp_path / "k3"), "--run",
                     str(tmp_path / "run")]) == 2

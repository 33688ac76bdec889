"""Semantic dedup as shard stages: equal to the single-process rule (one cluster; and
several clusters given the same centroids), duplicates across parts, resume."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.gpu.dedup import keep_reasons, near_duplicates
from curation.gpu.semdedup import nearest
from jobs import cli


def write_embeddings(folder: Path, parts: int = 3, per_part: int = 300, dim: int = 16, seed: int = 0):
    """Clustered unit vectors in clip-retrieval's layout, with near-copies planted in other
    parts than their originals. Returns all vectors (float16 -> float32, as stored) and keys."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(12, dim))
    n = parts * per_part
    vectors = centers[rng.integers(0, 12, n)] + 0.35 * rng.normal(size=(n, dim))
    copies = rng.choice(per_part, 20, replace=False)  # originals in part 0, copies in later parts
    for j, i in enumerate(copies):
        vectors[per_part * (1 + j % (parts - 1)) + j] = vectors[i] + 1e-3 * rng.normal(size=dim)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16)
    keys = [f"s{i:05d}" for i in range(n)]
    for p in range(parts):
        (folder / "img_emb").mkdir(parents=True, exist_ok=True)
        (folder / "metadata").mkdir(parents=True, exist_ok=True)
        np.save(folder / "img_emb" / f"img_emb_{p}.npy", vectors[p * per_part:(p + 1) * per_part])
        rows = slice(p * per_part, (p + 1) * per_part)
        pq.write_table(pa.table({"key": keys[rows], "url": [None] * per_part, "text": ["x"] * per_part,
                                 "similarity": rng.random(per_part).astype(np.float32)}),
                       folder / "metadata" / f"metadata_{p}.parquet")
    full = vectors.astype(np.float32)
    return full / np.linalg.norm(full, axis=1, keepdims=True), keys, copies, per_part


def keep_table(folder: Path) -> dict:
    return {r["key"]: (r["keep"], r["reason"], r["duplicate_of"]) for r in pq.read_table(folder).to_pylist()}


def reference(vectors, keys, threshold, labels=None):
    dup = near_duplicates(vectors, threshold, cluster_size=10**9, labels=labels)
    return {r["key"]: (r["keep"], r["reason"], r["duplicate_of"])
            for r in keep_reasons(keys, dup, None, None).to_pylist()}


def test_one_cluster_equals_the_single_process_rule(executor, tmp_path):
    vectors, keys, copies, per_part = write_embeddings(tmp_path / "emb")
    assert cli.main(["dedup", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "keep"),
                     "--threshold", "0.999", "--cluster-size", "100000"]) == 0
    got = keep_table(tmp_path / "keep")
    assert got == reference(vectors, keys, 0.999)
    planted = {keys[per_part * (1 + j % 2) + j]: keys[i] for j, i in enumerate(copies)}
    assert {k: v[2] for k, v in got.items() if v[1] == "near_duplicate"} == planted  # across parts
    assert json.loads((tmp_path / "keep" / "_dedup_stats.json").read_text())["duplicates"] == 20


@pytest.mark.parametrize("groups", [1, 3])
def test_several_clusters_equal_the_rule_with_the_same_centroids(tmp_path, groups):
    vectors, keys, _, _ = write_embeddings(tmp_path / "emb", seed=1)
    out = tmp_path / "keep"
    assert cli.main(["dedup", "--embeddings", str(tmp_path / "emb"), "--out", str(out), "--threshold", "0.995",
                     "--cluster-size", "100", "--group-size", str(900 // groups)]) == 0
    centroids = np.load(out / "_assign" / "centroids.npy")
    assert len(centroids) == 9 and len(list(out.glob("part-*.parquet"))) == groups
    assert keep_table(out) == reference(vectors, keys, 0.995, labels=nearest(centroids, vectors))


def test_resume_gives_the_same_keep_list(tmp_path):
    write_embeddings(tmp_path / "emb", seed=2)
    args = ["dedup", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "keep"), "--threshold", "0.99",
            "--cluster-size", "100", "--group-size", "300"]
    assert cli.main(args) == 0
    first = keep_table(tmp_path / "keep")
    (tmp_path / "keep" / "_done" / "00001.json").unlink()
    (tmp_path / "keep" / "_assign" / "_done" / "00002.json").unlink()
    (tmp_path / "keep" / "part-00001.parquet").unlink()
    assert cli.main(args) == 0
    assert keep_table(tmp_path / "keep") == first
    other = [a if a != "0.99" else "0.5" for a in args]
    assert cli.main(other) == 2  # another threshold into the same folder is refused


def test_index_built_per_part_and_merged_on_disk(executor, tmp_path, capsys):
    import faiss

    from curation.gpu import index as faiss_index

    vectors, keys, _, _ = write_embeddings(tmp_path / "emb", seed=3)
    out = tmp_path / "idx"
    assert cli.main(["index", "--embeddings", str(tmp_path / "emb"), "--out", str(out), "--exact-up-to", "100",
                     "--memory-mb", "0.01"]) == 0
    info = json.loads((out / "infos.json").read_text())
    assert info["kind"] == "ivfpq" and (out / "image.ivfdata").exists()
    assert sorted(p.name for p in (out / "_parts").glob("*.index")) == ["00000.index", "00001.index",
                                                                        "00002.index", "trained.index"]
    merged, stored_keys, _ = faiss_index.load(str(out))
    # The same trained index filled in one process gives the very same answers.
    whole = faiss.read_index(str(out / "_parts" / "trained.index"))
    whole.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    faiss.extract_index_ivf(whole).nprobe = info["nprobe"]
    queries = vectors[::37]
    d1, i1 = merged.search(queries, 10)
    d2, i2 = whole.search(queries, 10)
    assert (i1 == i2).all() and np.allclose(d1, d2)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i1, exact)])
    assert recall >= 0.3
    assert stored_keys.take(i1[0][:3]) == [keys[j] for j in i1[0][:3]]
    capsys.readouterr()
    assert cli.main(["knn", "--index", str(out), "--embeddings", str(tmp_path / "emb"), "--key", keys[100],
                     "-k", "3"]) == 0
    assert keys[100] in capsys.readouterr().out


def test_status_shows_the_stages_and_index_resume_is_identical(tmp_path, capsys):
    import faiss

    vectors, keys, _, _ = write_embeddings(tmp_path / "emb", seed=4)
    assert cli.main(["dedup", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "keep"),
                     "--threshold", "0.99", "--cluster-size", "100", "--group-size", "300"]) == 0
    capsys.readouterr()
    assert cli.main(["status", "--out", str(tmp_path / "keep")]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["dedup-assign"]["shards_done"] == 3 and status["dedup"]["complete"]
    args = ["index", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "idx"), "--exact-up-to", "100",
            "--memory-mb", "0.01"]
    assert cli.main(args) == 0
    first = faiss.read_index(str(tmp_path / "idx" / "image.index")).search(vectors[::50], 5)
    (tmp_path / "idx" / "_parts" / "_done" / "00001.json").unlink()
    (tmp_path / "idx" / "_parts" / "00001.index").unlink()
    assert cli.main(args) == 0
    again = faiss.read_index(str(tmp_path / "idx" / "image.index")).search(vectors[::50], 5)
    assert (first[1] == again[1]).all() and np.allclose(first[0], again[0])
    capsys.readouterr()
    assert cli.main(["status", "--out", str(tmp_path / "idx")]) == 0
    assert json.loads(capsys.readouterr().out)["index"]["shards_done"] == 3


def test_knn_by_an_unreadable_image_is_a_clear_error(tmp_path, caplog):
    write_embeddings(tmp_path / "emb", parts=2, per_part=50)
    assert cli.main(["index", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "idx")]) == 0
    (tmp_path / "not.jpg").write_text("text, not an image")
    assert cli.main(["knn", "--index", str(tmp_path / "idx"), "--image", str(tmp_path / "not.jpg")]) == 2
    assert "not a readable image" in caplog.text

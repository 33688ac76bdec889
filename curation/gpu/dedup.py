"""Semantic near-duplicate removal over image embeddings, and a CLIP-score filter.

Vectors are clustered with k-means (``faiss.Kmeans``; about ``cluster_size`` per cluster) so
memory stays per cluster; within a cluster, a sample is a duplicate when its cosine
similarity to an earlier kept sample (in input order) is at least ``threshold``. The keep
list records every key with ``keep``, ``reason`` and ``duplicate_of``.
"""

import numpy as np
import pyarrow as pa


def near_duplicates(vectors: np.ndarray, threshold: float, cluster_size: int = 1000, seed: int = 0) -> np.ndarray:
    """``duplicate_of[i]``: index of the earlier kept sample that ``i`` duplicates, or -1."""
    n = len(vectors)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return duplicate_of
    # Cosine on unit vectors (stored float16 embeddings are only nearly unit length).
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = _clusters(vectors, max(1, n // cluster_size), seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)  # ascending: input order
        kept: list[int] = []
        for i in members:
            if kept:
                sims = vectors[kept] @ vectors[i]
                best = int(np.argmax(sims))
                if sims[best] >= threshold:
                    duplicate_of[i] = kept[best]
                    continue
            kept.append(int(i))
    return duplicate_of


def _clusters(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    import faiss

    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False)
    kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
    return kmeans.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0].astype(np.int64)


def keep_list(keys: list[str], duplicate_of: np.ndarray, similarity: np.ndarray | None,
              min_clip_score: float | None) -> pa.Table:
    reason = np.where(duplicate_of >= 0, "near_duplicate", "")
    if min_clip_score is not None and similarity is not None:
        low = ~(np.nan_to_num(similarity, nan=-1.0) >= min_clip_score)
        reason = np.where((reason == "") & low, "low_clip_score", reason)
    dup_keys = [keys[j] if j >= 0 else None for j in duplicate_of]
    return pa.table({"key": keys, "keep": reason == "", "reason": reason.tolist(), "duplicate_of": dup_keys})


def dedup_embeddings(embeddings: str, out: str, threshold: float, cluster_size: int = 1000,
                     min_clip_score: float | None = None) -> dict:
    """Write the keep list of an embeddings folder to ``out``; return its summary."""
    from curation.gpu.vectors import load_embeddings
    from curation.io import write_parquet_atomic

    vectors, meta = load_embeddings(embeddings)
    duplicate_of = near_duplicates(vectors, threshold, cluster_size)
    similarity = meta["similarity"].to_numpy(zero_copy_only=False) if "similarity" in meta.column_names else None
    table = keep_list(meta["key"].to_pylist(), duplicate_of, similarity, min_clip_score)
    write_parquet_atomic(out, table)
    reasons = pa.compute.value_counts(table["reason"]).to_pylist()
    return {"samples": table.num_rows, "kept": int(sum(table["keep"].to_pylist())),
            "reasons": {r["values"] or "kept": r["counts"] for r in reasons}}


def removed_keys(keep_list_url: str) -> frozenset:
    """Keys a keep list removes."""
    from curation.io import read_parquet

    table = read_parquet(keep_list_url, columns=["key", "keep"])
    return frozenset(k for k, keep in zip(table["key"].to_pylist(), table["keep"].to_pylist()) if not keep)

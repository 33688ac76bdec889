"""Semantic near-duplicate removal over image embeddings, and a CLIP-score filter.

Vectors are clustered with k-means (``faiss.Kmeans``; about ``cluster_size`` per cluster) so
memory stays per cluster; within a cluster, members are visited in the keep policy's order
(``keep_order``) and a sample is a duplicate when its cosine similarity to an earlier kept
one is at least ``threshold``: of each group of near-duplicates, the first in that order
stays. The keep list records every key with ``keep``, ``reason`` and ``duplicate_of``.

Policies (``POLICIES``):
- ``first``: input order (the order of the embeddings parts and their rows);
- ``centroid``: the member least similar to its cluster's centre first: SemDeDup's rule
  (arXiv 2303.09540), which keeps the least prototypical copy;
- ``rarest``: the member whose rarest matched entry has the fewest matches in the run first
  (a copy that matched a tail entry beats one that matched only head entries), then the
  higher quality score, then the key's hash. Balancing keeps a head entry's texts with a
  small probability anyway, so dropping the copy that served a tail entry would lose tail
  coverage that no later stage restores.

``centroid`` and ``rarest`` ties fall to the hash of the key, so the keep list does not
depend on how the embeddings are split into parts.
"""

import numpy as np
import pyarrow as pa


def near_duplicates(vectors: np.ndarray, threshold: float, cluster_size: int = 1000, seed: int = 0,
                    labels: np.ndarray | None = None) -> np.ndarray:
    """``duplicate_of[i]``: index of the earlier kept sample that ``i`` duplicates, or -1.

    Clusters come from k-means on all vectors, or from ``labels`` when given."""
    n = len(vectors)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return duplicate_of
    # Cosine on unit vectors (stored float16 embeddings are only nearly unit length).
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if labels is None:
        labels = _clusters(vectors, max(1, n // cluster_size), seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)  # ascending: input order
        local = dedup_cluster(vectors[members], threshold)
        duplicate_of[members[local >= 0]] = members[local[local >= 0]]
    return duplicate_of


POLICIES = ("rarest", "centroid", "first")


def keep_order(policy: str, vectors: np.ndarray, key_hashes: np.ndarray, rarest: np.ndarray | None = None,
               quality: np.ndarray | None = None) -> np.ndarray:
    """The order in which one cluster's members (rows in input order) are offered a place.

    ``rarest[i]``: the smallest run count among member ``i``'s matched entries (``inf`` when it
    matched none); ``quality[i]``: its score (NaN when unscored, after every scored one)."""
    n = len(vectors)
    if policy == "first":
        return np.arange(n)
    if policy == "centroid":
        centre = vectors.mean(axis=0)
        centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
        return np.lexsort((key_hashes, vectors @ centre))
    if policy == "rarest":
        score = np.where(np.isnan(quality), np.inf, -quality) if quality is not None else np.zeros(n)
        return np.lexsort((key_hashes, score, rarest))
    raise ValueError(f"unknown keep policy {policy!r}")


def dedup_ordered(vectors: np.ndarray, threshold: float, order: np.ndarray) -> np.ndarray:
    """``dedup_cluster`` with the members visited in ``order``; indices are the input rows."""
    local = dedup_cluster(vectors[order], threshold)
    duplicate_of = np.full(len(vectors), -1, dtype=np.int64)
    dup = local >= 0
    duplicate_of[order[dup]] = order[local[dup]]
    return duplicate_of


def dedup_cluster(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Within one cluster (rows in input order, unit vectors): ``duplicate_of[j]``, the row of
    the earlier kept vector whose cosine similarity to ``j`` is highest and at least
    ``threshold``, or -1 when ``j`` is kept."""
    duplicate_of = np.full(len(vectors), -1, dtype=np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    # The kept vectors as one contiguous block that grows in place: no copy per comparison.
    block = np.empty_like(vectors)
    rows = np.empty(len(vectors), dtype=np.int64)
    m = 0
    for j in range(len(vectors)):
        if m:
            sims = block[:m] @ vectors[j]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                duplicate_of[j] = rows[best]
                continue
        block[m], rows[m] = vectors[j], j
        m += 1
    return duplicate_of


def _clusters(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    import faiss

    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False)
    kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
    return kmeans.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0].astype(np.int64)


def keep_reasons(keys: list[str], duplicate_of: np.ndarray, similarity: np.ndarray | None,
                 min_clip_score: float | None) -> pa.Table:
    """The keep list rows (key, keep, reason, duplicate_of) of samples in input order."""
    reason = np.where(duplicate_of >= 0, "near_duplicate", "")
    if min_clip_score is not None and similarity is not None:
        low = ~(np.nan_to_num(similarity, nan=-1.0) >= min_clip_score)
        reason = np.where((reason == "") & low, "low_clip_score", reason)
    dup_keys = [keys[j] if j >= 0 else None for j in duplicate_of]
    return pa.table({"key": keys, "keep": reason == "", "reason": reason.tolist(), "duplicate_of": dup_keys})


def removed_keys(keep_list_url: str) -> frozenset:
    """Keys a keep list removes (a Parquet file, or the folder of parts `curate dedup` writes)."""
    from curation.core.io import is_dir, list_files, read_parquet

    if is_dir(keep_list_url):
        parts = [read_parquet(url, columns=["key", "keep"]) for url in list_files(keep_list_url, (".parquet",))]
        table = pa.concat_tables(parts) if parts else pa.table({"key": pa.array([], pa.string()),
                                                                "keep": pa.array([], pa.bool_())})
    else:
        table = read_parquet(keep_list_url, columns=["key", "keep"])
    return frozenset(k for k, keep in zip(table["key"].to_pylist(), table["keep"].to_pylist()) if not keep)

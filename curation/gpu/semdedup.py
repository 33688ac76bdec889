"""Semantic dedup past one machine, the way SemDeDup runs at scale, on the shard-stage
skeleton (resume, done markers, ``curate status``):

1. the driver trains k-means (``faiss``; on the GPU when there is one) on a sample of the
   vectors (``SAMPLE``, or 39 per cluster when that is more), and keeps only the centroids;
2. ``AssignStage``, one task per embeddings part: each vector's nearest centroid; the part's
   rows are written per group of clusters (``_assign/g<group>/<part>.npy|.parquet``), so a
   group's rows can be read without reading any other (a shuffle through files);
3. ``GroupStage``, one task per group of clusters: reads only its clusters' rows and runs the
   exact rule of ``dedup.near_duplicates`` in each cluster (a sample is a duplicate when its
   cosine similarity to an earlier kept one, in the keep policy's order, is at least the
   threshold), and writes its part of the keep list (``part-<group>.parquet``: key, keep,
   reason, duplicate_of). With a run (``--run``) it also writes, per entry its samples
   matched, their count before dedup and after it under each policy asked for
   (``_entries/part-<group>.parquet``), from which the data card's dedup block is summed.

The k-means sample is drawn by the hash of the key, and sorted by it, so the centroids (and
with them the keep list) do not depend on how the embeddings are split into parts.

The keep list is the folder of parts (``pyarrow.parquet.read_table`` reads it whole;
``curate export --keep-list`` takes it). Memory: a task holds one part, or one group of
clusters; the driver holds the centroids and the per-part counts, never vectors or keys.
With one cluster (fewer vectors than ``cluster_size``) the decisions are exactly those of
the single-process ``near_duplicates``.
"""

import io

import numpy as np
import pyarrow as pa

from curation.core.io import join, list_files, list_names, npy_bytes, parquet_rows, read_bytes, read_parquet
from curation.core.layout import shard_name
from curation.core.shards import Shard, ShardOutput, ShardStage
from curation.gpu.dedup import POLICIES, dedup_ordered, keep_order, keep_reasons

ASSIGN = "_assign"
ENTRIES = "_entries"
SAMPLE = 131_072  # k-means training vectors held by the driver ...
MIN_PER_CLUSTER = 39  # ... unless more are needed for faiss's minimum per centroid
GROUP_TARGET = 200_000  # vectors per group of clusters (one task's memory)


def embedding_parts(embeddings: str) -> list[tuple[int, str]]:
    """(part number, metadata url) of every part of an embeddings folder, in part order."""
    from curation.core.errors import InputError

    metas = list_files(join(embeddings, "metadata"), (".parquet",))
    if not metas:
        raise InputError(f"{embeddings}: no embeddings (run `curate embed` first)")
    return sorted((int(url.rsplit("_", 1)[-1][: -len(".parquet")]), url) for url in metas)


def part_vectors(embeddings: str, part: int, kind: str = "img") -> np.ndarray:
    """A part's vectors as unit float32 rows (as ``vectors.load_embeddings`` gives them)."""
    matrix = np.load(io.BytesIO(read_bytes(join(embeddings, f"{kind}_emb", f"{kind}_emb_{part}.npy"))))
    matrix = matrix.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def plan(embeddings: str, cluster_size: int, group_size: int = GROUP_TARGET) -> dict:
    """Per-part sizes, the number of clusters and of cluster groups (about ``group_size``
    vectors each), read from the parts' footers."""
    parts = embedding_parts(embeddings)
    sizes = [parquet_rows(url) for _, url in parts]
    n = sum(sizes)
    k = max(1, n // cluster_size)
    groups = max(1, min(k, -(-n // group_size)))
    return {"parts": [p for p, _ in parts], "sizes": sizes, "vectors": n, "clusters": k, "groups": groups}


def train_centroids(embeddings: str, layout: dict, seed: int = 0) -> np.ndarray:
    """k-means centroids from a sample of every part (proportional, seeded); a single
    cluster needs none (an empty array)."""
    k = layout["clusters"]
    if k == 1:
        return np.zeros((0, 0), np.float32)
    import faiss

    # A fixed sample keeps the driver's memory flat as the set grows (the centroids grow with
    # it; the sample only past MIN_PER_CLUSTER * k, i.e. above about 3,300 clusters).
    vectors = sample_vectors(embeddings, layout, max(SAMPLE, MIN_PER_CLUSTER * k), seed)
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False,
                          gpu=faiss.get_num_gpus() > 0)
    kmeans.train(vectors)
    return kmeans.centroids.astype(np.float32)


def sample_vectors(embeddings: str, layout: dict, want: int, seed: int = 0, kind: str = "img") -> np.ndarray:
    """About ``want`` vectors: those whose key's coin ``u(seed, key)`` is below ``want / n``,
    in coin order, read one part at a time (the driver holds the sample, never the whole set).
    Drawn by key, the sample is the same however the set is split into parts."""
    from curation.core.hashing import coins

    share = min(1.0, want / max(1, layout["vectors"]))
    picked, order = [], []
    for part in layout["parts"]:
        keys = read_parquet(join(embeddings, "metadata", f"metadata_{part}.parquet"), columns=["key"])["key"]
        u = coins(keys.combine_chunks().cast(pa.string()), seed)
        rows = np.flatnonzero(u < share) if share < 1.0 else np.arange(len(u))
        picked.append(part_vectors(embeddings, part, kind)[rows])
        order.append(u[rows])
    sample = np.concatenate(picked)[np.argsort(np.concatenate(order), kind="stable")]
    return np.ascontiguousarray(sample, dtype=np.float32)


def centroids(embeddings: str, layout: dict, seed: int, assign_dir: str) -> np.ndarray:
    """The run's centroids: trained once and saved, so a resumed run assigns its remaining
    parts with the very centroids the finished ones used."""
    from curation.core.io import exists, write_bytes_atomic

    url = join(assign_dir, "centroids.npy")
    if exists(url):
        return np.load(io.BytesIO(read_bytes(url)))
    trained = train_centroids(embeddings, layout, seed)
    write_bytes_atomic(url, npy_bytes(trained))
    return trained


def nearest(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Each vector's cluster (its nearest centroid by inner product)."""
    if len(centroids) == 0:
        return np.zeros(len(vectors), np.int64)
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids))
    return index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0].astype(np.int64)


class AssignStage(ShardStage):
    """One embeddings part: each vector's cluster, rows written per group of clusters."""

    name = "dedup-assign"
    phase = "after-export"
    folder = ASSIGN
    rows_key = "vectors"

    def __init__(self, out_dir: str, params: dict, embeddings: str, centroids: np.ndarray, groups: int,
                 needs_entries: bool = False):
        super().__init__(out_dir, params)
        self.embeddings, self.centroids, self.groups = embeddings, centroids, groups
        self.needs_entries = needs_entries

    def plan(self) -> list[Shard]:
        return [Shard(shard_name(part), url, part) for part, url in embedding_parts(self.embeddings)]

    def process(self, shard: Shard) -> ShardOutput:
        vectors = part_vectors(self.embeddings, shard.index)
        meta = read_parquet(shard.source)
        clusters = nearest(self.centroids, vectors)
        group_of = clusters % self.groups
        similarity = meta["similarity"] if "similarity" in meta.column_names else pa.nulls(meta.num_rows, pa.float32())
        extra = self._entry_columns(meta, shard.source)
        files = {}
        for group in np.unique(group_of):
            rows = np.flatnonzero(group_of == group)
            base = join(self.out_dir, f"g{int(group):05d}", shard.name)
            files[f"{base}.npy"] = npy_bytes(vectors[rows])
            files[f"{base}.parquet"] = pa.table({
                "key": meta["key"].take(pa.array(rows)), "row": pa.array(rows, pa.int64()),
                "cluster": pa.array(clusters[rows], pa.int64()),
                "similarity": similarity.take(pa.array(rows)).cast(pa.float32()),
                **{name: column.take(pa.array(rows)) for name, column in extra.items()}})
        return ShardOutput(files, {"vectors": len(vectors), "groups": len(files) // 2})

    def _entry_columns(self, meta: pa.Table, url: str) -> dict:
        """``entry_ids`` and ``quality`` for a run-aware dedup; embeddings made before
        ``curate embed`` carried them cannot say what a sample matched."""
        if not self.needs_entries:
            return {}
        if "entry_ids" not in meta.column_names:
            from curation.core.errors import InputError

            raise InputError(f"{url}: no entry_ids column (embeddings from an older `curate embed`); embed the "
                             f"export again to dedup with --run")
        quality = meta["quality"] if "quality" in meta.column_names else pa.nulls(meta.num_rows, pa.float32())
        return {"entry_ids": meta["entry_ids"].cast(pa.list_(pa.int32())), "quality": quality.cast(pa.float32())}


class GroupStage(ShardStage):
    """One group of clusters: the exact within-cluster rule in the keep policy's order, its
    part of the keep list, and with a run its entries' counts before and after."""

    name = "dedup"
    phase = "after-export"
    rows_key = "samples"

    def __init__(self, out_dir: str, params: dict, groups: int, run_counts: np.ndarray | None = None):
        super().__init__(out_dir, params)
        self.groups, self.run_counts = groups, run_counts

    def plan(self) -> list[Shard]:
        return [Shard(shard_name(g), join(self.out_dir, ASSIGN, f"g{g:05d}"), g) for g in range(self.groups)]

    @property
    def policies(self) -> list[str]:
        """The policy of the keep list first, then (``compare``) the others."""
        chosen = self.params["keep"]
        return [chosen] + ([p for p in POLICIES if p != chosen] if self.params.get("compare") else [])

    def process(self, shard: Shard) -> ShardOutput:
        metas, blocks = [], []
        for name in list_names(shard.source, ".parquet"):  # parts in order: the input order
            metas.append(read_parquet(join(shard.source, f"{name}.parquet")))
            blocks.append(np.load(io.BytesIO(read_bytes(join(shard.source, f"{name}.npy")))))
        if not metas:
            return ShardOutput({}, {"samples": 0, "duplicates": 0})
        meta = pa.concat_tables(metas)
        vectors = np.concatenate(blocks)
        decisions = {policy: self._decide(policy, meta, vectors, shard.source) for policy in self.policies}
        duplicate_of = decisions[self.params["keep"]]
        keys = meta["key"].to_pylist()
        similarity = meta["similarity"].to_numpy(zero_copy_only=False)
        table = keep_reasons(keys, duplicate_of, similarity, self.params.get("min_clip_score"))
        files = {join(self.out_dir, f"part-{shard.name}.parquet"): table}
        stats = {"samples": table.num_rows, "duplicates": int((duplicate_of >= 0).sum()),
                 "kept": int(sum(table["keep"].to_pylist())),
                 "duplicate_groups": int(len(np.unique(duplicate_of[duplicate_of >= 0])))}
        if self.run_counts is not None:
            files[join(self.out_dir, ENTRIES, f"part-{shard.name}.parquet")] = entry_changes(meta, decisions)
            for policy, dup in decisions.items():
                stats[f"removed_{policy}"] = int((dup >= 0).sum())
                stats[f"groups_{policy}"] = int(len(np.unique(dup[dup >= 0])))
        return ShardOutput(files, stats)

    def _decide(self, policy: str, meta: pa.Table, vectors: np.ndarray, where: str) -> np.ndarray:
        """``duplicate_of`` of every row of the group under ``policy``."""
        from curation.core.hashing import coin_hashes

        duplicate_of = np.full(len(vectors), -1, np.int64)
        clusters = meta["cluster"].to_numpy()
        hashes = coin_hashes(meta["key"].combine_chunks().cast(pa.string()), 0)
        rarest = quality = None
        if policy == "rarest":
            rarest = rarest_counts(meta["entry_ids"], self.run_counts, where)
            quality = meta["quality"].to_numpy(zero_copy_only=False).astype(np.float64)
        for cluster in np.unique(clusters):
            members = np.flatnonzero(clusters == cluster)  # ascending: input order
            unit = vectors[members].astype(np.float32)
            order = keep_order(policy, unit, hashes[members], None if rarest is None else rarest[members],
                               None if quality is None else quality[members])
            local = dedup_ordered(unit, self.params["threshold"], order)
            duplicate_of[members[local >= 0]] = members[local[local >= 0]]
        return duplicate_of


def rarest_counts(entry_ids: pa.ChunkedArray, run_counts: np.ndarray, where: str = "") -> np.ndarray:
    """Per row, the smallest run count among its matched entries (``inf`` when it has none)."""
    ids = entry_ids.combine_chunks()
    lengths = ids.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    flat = ids.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    if len(flat) and flat.max() >= len(run_counts):
        from curation.core.errors import InputError

        raise InputError(f"{where}: entry id {int(flat.max())} is past the run's {len(run_counts)} entries "
                         f"(embeddings of another run?)")
    values = run_counts[flat].astype(np.float64)
    out = np.full(len(lengths), np.inf)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    np.minimum.at(out, rows, values)
    return out


def entry_changes(meta: pa.Table, decisions: dict) -> pa.Table:
    """Per entry the group's samples matched: how many (``before``) and how many each policy keeps."""
    ids = meta["entry_ids"].combine_chunks()
    lengths = ids.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    flat = ids.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    entries, inverse = np.unique(flat, return_inverse=True)
    columns = {"entry_id": pa.array(entries, pa.int64()),
               "before": pa.array(np.bincount(inverse, minlength=len(entries)), pa.int64())}
    for policy, duplicate_of in decisions.items():
        kept = duplicate_of[rows] < 0
        columns[f"after_{policy}"] = pa.array(np.bincount(inverse[kept], minlength=len(entries)), pa.int64())
    return pa.table(columns)

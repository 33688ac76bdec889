"""FAISS index over embeddings: exact (inner product) for small sets, IVF-PQ chosen from the
size and a memory budget for large ones; on the GPU when faiss has one. Queries by vector."""

import json
import math

import numpy as np

from curation.core.io import join, read_bytes, read_json, write_bytes_atomic, write_json_atomic
from curation.core.layout import shard_name
from curation.core.shards import Shard, ShardOutput, ShardStage

EXACT_UP_TO = 100_000


def choose(n: int, dim: int, memory_mb: float, exact_up_to: int = EXACT_UP_TO) -> dict:
    """Index parameters: flat while it fits the budget (or the set is small), else IVF-PQ
    with as many bytes per vector as the budget allows."""
    if n <= exact_up_to or n * dim * 4 <= memory_mb * 2**20:
        return {"kind": "flat", "factory": "Flat"}
    nlist = int(min(65536, max(16, 4 * math.sqrt(n))))
    budget_per_vector = memory_mb * 2**20 / n
    m = max(1, min(dim, 2 ** int(math.log2(max(1, budget_per_vector)))))
    while dim % m:
        m //= 2
    return {"kind": "ivfpq", "factory": f"IVF{nlist},PQ{m}", "nlist": nlist, "pq_bytes": m,
            "nprobe": min(nlist, 16)}


def build(vectors: np.ndarray, params: dict):
    import faiss

    index = faiss.index_factory(vectors.shape[1], params["factory"], faiss.METRIC_INNER_PRODUCT)
    if faiss.get_num_gpus() > 0:  # train and add on the GPU, store the CPU form
        index = faiss.index_gpu_to_cpu(_on_gpu(faiss, index, vectors))
    else:
        if not index.is_trained:
            index.train(_training_sample(vectors, params))
        index.add(vectors)
    if params["kind"] == "ivfpq":
        faiss.extract_index_ivf(index).nprobe = params["nprobe"]
    return index


def _on_gpu(faiss, index, vectors):
    gpu = faiss.index_cpu_to_all_gpus(index)
    if not gpu.is_trained:
        gpu.train(vectors)
    gpu.add(vectors)
    return gpu


def _training_sample(vectors: np.ndarray, params: dict) -> np.ndarray:
    n = min(len(vectors), max(256 * params.get("nlist", 1), 10_000))
    return vectors[np.random.default_rng(0).choice(len(vectors), n, replace=False)]


KEYS = "keys.parquet"
KEYS_ROW_GROUP = 1 << 16


def save(out: str, index, keys: list[str], info: dict) -> None:
    """``image.index``, ``keys.parquet`` (the keys in index order, in row groups of 65,536,
    so a lookup reads only the groups of its positions) and ``infos.json``."""
    import io

    import faiss
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_bytes_atomic(join(out, "image.index"), faiss.serialize_index(index).tobytes())
    buf = io.BytesIO()
    pq.write_table(pa.table({"key": pa.array(keys, pa.string())}), buf, row_group_size=KEYS_ROW_GROUP)
    write_bytes_atomic(join(out, KEYS), buf.getvalue())
    write_json_atomic(join(out, "infos.json"), info)


class IndexKeys:
    """The keys of an index, read by position from ``keys.parquet`` (only the row groups
    that hold the positions asked for)."""

    def __init__(self, url: str):
        self.url = url

    def take(self, positions) -> list[str]:
        import pyarrow.parquet as pq

        from curation.core.io import open_read

        positions = [int(p) for p in positions]
        with open_read(self.url) as f:
            parquet = pq.ParquetFile(f)
            meta = parquet.metadata
            starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
            where = {p: int(np.searchsorted(starts, p, side="right")) - 1 for p in positions}
            found = {g: parquet.read_row_group(g, columns=["key"])["key"].to_pylist() for g in set(where.values())}
        return [found[where[p]][p - starts[where[p]]] for p in positions]


def load(folder: str):
    import faiss

    from curation.core.io import exists

    if exists(join(folder, IVFDATA)):  # an on-disk index: FAISS maps its lists by file name
        index = faiss.read_index(join(folder.removeprefix("file://"), "image.index"))
    else:
        index = faiss.deserialize_index(np.frombuffer(read_bytes(join(folder, "image.index")), dtype=np.uint8))
    keys = IndexKeys(join(folder, KEYS)) if exists(join(folder, KEYS)) else json.loads(
        read_bytes(join(folder, "keys.json")))  # indexes written before keys.parquet
    return index, keys, read_json(join(folder, "infos.json"))


def search(index, keys, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """The ``k`` nearest keys and scores of each query; ``keys`` is a list or ``IndexKeys``."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores, ids = index.search(queries, k)
    results = []
    for row_ids, row_scores in zip(ids, scores):
        valid = [(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
        names = keys.take([i for i, _ in valid]) if hasattr(keys, "take") else [keys[i] for i, _ in valid]
        results.append(list(zip(names, [s for _, s in valid])))
    return results


def build_from_embeddings(embeddings: str, out: str, kind: str = "img", memory_mb: float = 4096) -> dict:
    """Build, save and describe the index of an embeddings folder in this process (an index
    that fits the memory budget; ``IndexPartStage`` builds the others)."""
    from curation.gpu.vectors import load_embeddings

    vectors, meta = load_embeddings(embeddings, kind)
    params = choose(len(vectors), vectors.shape[1], memory_mb)
    index = build(vectors, params)
    info = {"vectors": len(vectors), "dim": int(vectors.shape[1]), "kind": kind, **params}
    save(out, index, meta["key"].to_pylist(), info)
    return info


# An index larger than the budget is built past one process: trained on a sample on the
# driver, vectors added per part in tasks (``IndexPartStage``), the parts' inverted lists
# merged on disk (``merge_parts``: faiss.contrib.ondisk), and the keys written beside it in
# index order, one part at a time.
PARTS = "_parts"
TRAINED = "trained.index"
IVFDATA = "image.ivfdata"


def train_empty(sample: np.ndarray, params: dict):
    """An empty IVF index of ``params`` trained on ``sample`` (on the GPU when there is one)."""
    import faiss

    index = faiss.index_factory(sample.shape[1], params["factory"], faiss.METRIC_INNER_PRODUCT)
    if faiss.get_num_gpus() > 0:
        gpu = faiss.index_cpu_to_all_gpus(index)
        gpu.train(sample)
        return faiss.index_gpu_to_cpu(gpu)
    index.train(sample)
    return index


class IndexPartStage(ShardStage):
    """One embeddings part added to a copy of the trained index, with global ids (the
    vector's position in part order), saved as ``_parts/<part>.index``."""

    name = "index"
    phase = "after-export"
    folder = PARTS
    rows_key = "vectors"

    def __init__(self, out_dir: str, params: dict, embeddings: str, kind: str, offsets: dict):
        super().__init__(out_dir, params)
        self.embeddings, self.kind, self.offsets = embeddings, kind, offsets

    def plan(self) -> list[Shard]:
        from curation.gpu.semdedup import embedding_parts

        return [Shard(shard_name(part), url, part) for part, url in embedding_parts(self.embeddings)]

    def process(self, shard: Shard) -> ShardOutput:
        import faiss

        from curation.gpu.semdedup import part_vectors

        index = faiss.deserialize_index(np.frombuffer(read_bytes(join(self.out_dir, TRAINED)), dtype=np.uint8))
        vectors = part_vectors(self.embeddings, shard.index, self.kind)
        ids = np.arange(len(vectors), dtype=np.int64) + self.offsets[shard.index]
        index.add_with_ids(vectors, ids)
        return ShardOutput({join(self.out_dir, f"{shard.name}.index"): faiss.serialize_index(index).tobytes()},
                           {"vectors": len(vectors)})


def merge_parts(out: str, names: list[str], params: dict, info: dict) -> None:
    """Merge the parts' inverted lists into ``image.ivfdata`` beside ``image.index`` (an
    on-disk index: searching maps the lists, so the index can exceed memory). ``out`` must
    be a local or mounted folder, as FAISS maps the lists by file name."""
    import faiss
    from faiss.contrib.ondisk import merge_ondisk

    from curation.core.errors import InputError

    if "://" in out and not out.startswith("file://"):
        raise InputError(f"--out {out}: an on-disk index is written to a local or mounted folder")
    local = out.removeprefix("file://")
    trained = faiss.read_index(join(local, PARTS, TRAINED))
    merge_ondisk(trained, [join(local, PARTS, f"{name}.index") for name in names], join(local, IVFDATA))
    faiss.extract_index_ivf(trained).nprobe = params["nprobe"]
    faiss.write_index(trained, join(local, "image.index.tmp"))
    import os

    os.replace(join(local, "image.index.tmp"), join(local, "image.index"))
    write_json_atomic(join(out, "infos.json"), info)


def write_keys(out: str, embeddings: str) -> None:
    """``keys.parquet`` in index order, streamed one part at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.core.io import open_atomic, read_parquet
    from curation.gpu.semdedup import embedding_parts

    with open_atomic(join(out, KEYS)) as f:
        writer = pq.ParquetWriter(f, pa.schema([("key", pa.string())]))
        for _, url in embedding_parts(embeddings):
            keys = read_parquet(url, columns=["key"]).cast(pa.schema([("key", pa.string())]))
            writer.write_table(keys, row_group_size=KEYS_ROW_GROUP)
        writer.close()


def vector_of_key(embeddings: str, key: str) -> np.ndarray:
    """The stored image vector of ``key`` (its first sample), found by scanning the key
    column of the metadata parts; only that part's vectors are then read."""
    import io

    import pyarrow.compute as pc

    from curation.core.errors import InputError
    from curation.core.io import list_files, read_parquet

    for url in list_files(join(embeddings, "metadata"), (".parquet",)):
        keys = read_parquet(url, columns=["key"])["key"]
        hits = pc.index(keys, key).as_py()
        if hits >= 0:
            part = url.rsplit("_", 1)[-1][: -len(".parquet")]
            vectors = np.load(io.BytesIO(read_bytes(join(embeddings, "img_emb", f"img_emb_{part}.npy"))))
            vector = vectors[hits].astype(np.float32)
            norm = np.linalg.norm(vector)
            return vector / norm if norm > 0 else vector
    raise InputError(f"key {key!r} is not in {embeddings}")

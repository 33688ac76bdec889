"""FAISS index over embeddings: exact (inner product) for small sets, IVF-PQ chosen from the
size and a memory budget for large ones; on the GPU when faiss has one. Queries by vector."""

import json
import math

import numpy as np

from curation.io import join, read_bytes, read_json, write_bytes_atomic, write_json_atomic

EXACT_UP_TO = 100_000


def choose(n: int, dim: int, memory_mb: float) -> dict:
    """Index parameters: flat while it fits the budget (or the set is small), else IVF-PQ
    with as many bytes per vector as the budget allows."""
    if n <= EXACT_UP_TO or n * dim * 4 <= memory_mb * 2**20:
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

        from curation.io import open_read

        positions = [int(p) for p in positions]
        groups = sorted({p // KEYS_ROW_GROUP for p in positions})
        with open_read(self.url) as f:
            parquet = pq.ParquetFile(f)
            found = {g: parquet.read_row_group(g, columns=["key"])["key"].to_pylist() for g in groups}
        return [found[p // KEYS_ROW_GROUP][p % KEYS_ROW_GROUP] for p in positions]


def load(folder: str):
    import faiss

    from curation.io import exists

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
    """Build, save and describe the index of an embeddings folder."""
    from curation.gpu.vectors import load_embeddings

    vectors, meta = load_embeddings(embeddings, kind)
    params = choose(len(vectors), vectors.shape[1], memory_mb)
    index = build(vectors, params)
    info = {"vectors": len(vectors), "dim": int(vectors.shape[1]), "kind": kind, **params}
    save(out, index, meta["key"].to_pylist(), info)
    return info


def vector_of_key(embeddings: str, key: str) -> np.ndarray:
    """The stored image vector of ``key`` (its first sample), found by scanning the key
    column of the metadata parts; only that part's vectors are then read."""
    import io

    import pyarrow.compute as pc

    from curation.errors import InputError
    from curation.io import list_files, read_parquet

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

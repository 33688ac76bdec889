"""Reading an embeddings folder (clip-retrieval layout) back: vectors and their keys."""

import io

import numpy as np
import pyarrow as pa

from curation.core.io import exists, join, list_files, read_bytes, read_parquet


def load_embeddings(folder: str, kind: str = "img") -> tuple[np.ndarray, pa.Table]:
    """All parts in order: unit float32 vectors and the metadata table (key, url, text, similarity)."""
    emb_dir = join(folder, f"{kind}_emb")
    if not exists(emb_dir):
        from curation.core.errors import InputError

        raise InputError(f"{emb_dir}: no embeddings (run `curate embed` first)")
    parts = sorted(int(u.rsplit("_", 1)[-1][:-4]) for u in list_files(emb_dir, (".npy",)))
    vectors = [np.load(io.BytesIO(read_bytes(join(emb_dir, f"{kind}_emb_{i}.npy")))) for i in parts]
    metas = [read_parquet(join(folder, "metadata", f"metadata_{i}.parquet")) for i in parts]
    dim = vectors[0].shape[1] if vectors else 0
    matrix = np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
    # Stored as float16, so only nearly unit length: renormalise for exact cosine scores.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return matrix, pa.concat_tables(metas) if metas else pa.table({"key": pa.array([], pa.string())})

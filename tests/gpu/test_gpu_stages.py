"""GPU hand-off stages on the CPU with the ``tiny`` model: embeddings, FAISS index, semantic
dedup, and CLIP training on exported shards (open_clip's training code), with resume."""

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curation.gpu import index as faiss_index
from curation.gpu.dedup import near_duplicates
from curation.gpu.tars import iter_samples
from jobs import cli
from tests.helpers import write_metadata, write_pool

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}


def square(rgb, seed) -> bytes:
    noise = np.random.default_rng(seed).integers(-70, 70, size=(32, 32, 3))
    pixels = np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported(executor, tmp_path_factory):
    """96 colour squares with captions, curated and exported as 3 tars, plus one planted
    duplicate (same image bytes and caption under another key)."""
    root = tmp_path_factory.mktemp("gpu")
    rows = [{"key": f"{name}-{i:02d}", "url": None, "text": f"a photo of a {name} square",
             "image": square(rgb, hash((name, i)) % 1000)} for i in range(24) for name, rgb in COLORS.items()]
    rows.append({**rows[5], "key": "planted-copy"})
    write_pool(root / "pool", rows)
    write_metadata(root / "meta.json", ["photo", "square", *COLORS])
    assert cli.main(["curate", "--pool", str(root / "pool"), "--metadata", str(root / "meta.json"), "--out",
                     str(root / "run"), "--t", "1000"]) == 0
    assert cli.main(["export", "--curated", str(root / "run"), "--out", str(root / "shards"),
                     "--samples-per-tar", "33"]) == 0
    return root


def embed(root: Path, out: str, *extra) -> Path:
    assert cli.main(["embed", "--shards", str(root / "shards"), "--out", str(root / out), "--model", "tiny",
                     "--batch-size", "16", *extra]) == 0
    return root / out


def test_embeddings_shapes_order_and_keys(exported):
    out = embed(exported, "emb")
    tars = sorted((exported / "shards").glob("*.tar"))
    assert len(tars) == 3
    for i, tar in enumerate(tars):
        img, txt = np.load(out / "img_emb" / f"img_emb_{i}.npy"), np.load(out / "text_emb" / f"text_emb_{i}.npy")
        meta = pq.read_table(out / "metadata" / f"metadata_{i}.parquet").to_pylist()
        samples = list(iter_samples(str(tar)))
        assert img.dtype == txt.dtype == np.float16 and img.shape == txt.shape == (len(samples), 32)
        assert [m["key"] for m in meta] == [s["json"]["key"] for s in samples]
        assert [m["text"] for m in meta] == [s["txt"] for s in samples]
        assert np.allclose(np.linalg.norm(img.astype(np.float32), axis=1), 1, atol=1e-2)
        assert np.allclose([m["similarity"] for m in meta], (img.astype(np.float32) * txt).sum(1), atol=1e-3)
    stats = json.loads((out / "embed_stats.json").read_text())
    assert stats == {"parts": 3, "samples": 97, "undecodable": 0}


def test_index_recall_of_exact_neighbours():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = [f"k{i}" for i in range(len(vectors))]
    params = faiss_index.choose(len(vectors), 32, memory_mb=64)
    assert params["kind"] == "flat"
    index = faiss_index.build(vectors, params)
    found = faiss_index.search(index, keys, vectors[:50], 10)
    truth = np.argsort(-(vectors[:50] @ vectors.T), axis=1)[:, :10]
    assert [[k for k, _ in row] for row in found] == [[keys[j] for j in row] for row in truth]
    big = faiss_index.choose(10_000_000, 512, memory_mb=1024)
    assert big["kind"] == "ivfpq" and big["pq_bytes"] <= 512 and 512 % big["pq_bytes"] == 0


def test_dedup_removes_planted_near_duplicates():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(400, 32)).astype(np.float32)
    copies = base[:40] + rng.normal(scale=0.01, size=(40, 32)).astype(np.float32)
    vectors = np.concatenate([base, copies])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    duplicate_of = near_duplicates(vectors, threshold=0.95, cluster_size=100)
    assert duplicate_of[:400].tolist() == [-1] * 400
    assert duplicate_of[400:].tolist() == list(range(40))


def test_dedup_keep_list_knn_and_export_filter(exported, capsys):
    emb = embed(exported, "emb2")
    keep = exported / "keep.parquet"
    # Exact copies score 1; the closest distinct squares of this random model stay below 0.9992.
    assert cli.main(["dedup", "--embeddings", str(emb), "--out", str(keep), "--threshold", "0.9999"]) == 0
    table = pq.read_table(keep).to_pylist()
    removed = [r for r in table if not r["keep"]]
    assert [(r["key"], r["duplicate_of"], r["reason"]) for r in removed] == [("planted-copy", "green-01",
                                                                             "near_duplicate")]
    assert cli.main(["index", "--embeddings", str(emb), "--out", str(exported / "index")]) == 0
    capsys.readouterr()
    assert cli.main(["knn", "--index", str(exported / "index"), "--embeddings", str(emb), "--key", "green-01",
                     "-k", "2"]) == 0
    hits = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert set(hits) == {"green-01", "planted-copy"}
    assert cli.main(["export", "--curated", str(exported / "run"), "--out", str(exported / "filtered"),
                     "--samples-per-tar", "200", "--keep-list", str(keep)]) == 0
    status = pq.read_table(exported / "filtered" / "00000.parquet").to_pylist()
    assert {r["source_key"] for r in status if r["status"] == "removed_by_keep_list"} == {r["key"] for r in removed}
    assert json.loads((exported / "filtered" / "sizes.json").read_text())["00000.tar"] == 97 - len(removed)


def test_embeddings_carry_what_each_sample_matched_for_balance_aware_dedup(exported):
    emb = embed(exported, "emb3")
    meta = pq.read_table(emb / "metadata").to_pylist()
    entries = json.loads((exported / "meta.json").read_text())
    green = next(m for m in meta if m["key"] == "green-01")
    assert sorted(entries[i] for i in green["entry_ids"]) == ["green", "photo", "square"]
    assert all(m["quality"] is None for m in meta)  # the run had no quality column
    keep = exported / "keep-rarest"
    assert cli.main(["dedup", "--embeddings", str(emb), "--out", str(keep), "--threshold", "0.9999",
                     "--run", str(exported / "run"), "--compare"]) == 0
    removed = [r["key"] for r in pq.read_table(keep).to_pylist() if not r["keep"]]
    assert len(removed) == 1 and removed[0] in {"planted-copy", "green-01"}  # equal copies: the key hash decides
    block = json.loads((exported / "run" / "datacard.json").read_text())["dedup"][str(keep)]
    assert [p["policy"] for p in block["policies"]] == ["rarest", "centroid", "first"]
    assert all(p["removed_rows"] == 1 and p["entries_emptied"] == 0 for p in block["policies"])
    assert cli.main(["report", "--out", str(exported / "run")]) == 0
    page = (exported / "run" / "report.html").read_text()
    assert "<h2>Dedup</h2>" in page and "rarest (kept)" in page


def test_training_separates_pairs_checkpoints_and_resumes(exported):
    out = exported / "train"
    # open_clip_train shuffles samples with an unseeded RNG: warmup keeps this toy run from collapsing.
    train = ["train", "--shards", str(exported / "shards"), "--out", str(out), "--batch-size", "16", "--lr", "1e-3",
             "--warmup", "10"]
    assert cli.main([*train, "--epochs", "15"]) == 0
    checkpoints = out / "run" / "checkpoints"
    assert (checkpoints / "epoch_15.pt").exists() and (checkpoints / "epoch_latest.pt").exists()
    emb = embed(exported, "emb-trained", "--pretrained", str(checkpoints / "epoch_latest.pt"))
    img = np.concatenate([np.load(emb / "img_emb" / f"img_emb_{i}.npy") for i in range(3)]).astype(np.float32)
    txt = np.concatenate([np.load(emb / "text_emb" / f"text_emb_{i}.npy") for i in range(3)]).astype(np.float32)
    matched = (img * txt).sum(1).mean()
    shuffled = (img * np.roll(txt, 7, axis=0)).sum(1).mean()
    assert matched > shuffled + 0.3, (matched, shuffled)
    assert cli.main([*train, "--epochs", "16"]) == 0
    log = (out / "run" / "out.log").read_text()
    assert "Found latest resume checkpoint" in log and (checkpoints / "epoch_16.pt").exists()


def test_tensor_decode_path_matches_the_pil_transform(exported):
    """The device decode path (nvJPEG on a GPU; decode_image here) gives the same embeddings
    as open_clip's PIL transform, up to resampling differences."""
    pil = embed(exported, "emb-pil", "--decode", "pil")
    tensor = embed(exported, "emb-tensor", "--decode", "tensor")
    for i in range(3):
        a = np.load(pil / "img_emb" / f"img_emb_{i}.npy").astype(np.float32)
        b = np.load(tensor / "img_emb" / f"img_emb_{i}.npy").astype(np.float32)
        assert a.shape == b.shape and (a * b).sum(1).min() > 0.98
    assert pq.read_table(tensor / "metadata" / "metadata_0.parquet")["key"].to_pylist() == \
        pq.read_table(pil / "metadata" / "metadata_0.parquet")["key"].to_pylist()


def test_index_keys_are_read_by_position_across_row_groups(tmp_path):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(70_000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = [f"key-{i}" for i in range(len(vectors))]
    index = faiss_index.build(vectors, {"kind": "flat", "factory": "Flat"})
    faiss_index.save(str(tmp_path / "idx"), index, keys, {"vectors": len(keys)})
    loaded, stored, _ = faiss_index.load(str(tmp_path / "idx"))
    assert stored.take([0, 65_535, 65_536, 69_999]) == ["key-0", "key-65535", "key-65536", "key-69999"]
    queries = vectors[[3, 66_000, 69_999]]
    assert [row[0][0] for row in faiss_index.search(loaded, stored, queries, 1)] == ["key-3", "key-66000",
                                                                                   "key-69999"]


def test_embed_reader_errors_surface_and_batch_size_follows_the_device(tmp_path):
    from curation.gpu.embed import auto_batch_size, embed_tar
    from curation.gpu.models import worker_model

    assert auto_batch_size("cpu") == 64
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar at all" * 100)
    from curation.core.errors import InputError

    with pytest.raises(InputError, match="broken.tar: not a readable WebDataset tar"):  # from the reader thread
        embed_tar(str(broken), 0, str(tmp_path / "emb"), worker_model("tiny", None))

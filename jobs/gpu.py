"""`curate embed|index|knn|dedup|train`: the GPU hand-off stages (they run on the CPU too).

``embed`` runs one Spark task per tar (``--local`` runs them in this process, as one task
per GPU would); on a cluster with GPU scheduling give
``--conf spark.task.resource.gpu.amount=1 --conf spark.executor.resource.gpu.amount=1``.
"""

import json
import logging
import sys
from functools import lru_cache, partial

import numpy as np
import pyarrow as pa

from curation.errors import InputError
from curation.io import join, list_files, read_parquet, write_json_atomic, write_parquet_atomic

log = logging.getLogger("curate")


def add_parsers(sub, conf_pair) -> None:
    e = sub.add_parser("embed", help="open_clip image and text embeddings of exported tars (clip-retrieval layout)")
    e.add_argument("--shards", required=True, help="folder of NNNNN.tar")
    e.add_argument("--out", required=True)
    _model_args(e)
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--decode", choices=["auto", "tensor", "pil"], default="auto",
                   help="image decoding: on the device (nvJPEG on a GPU), or PIL; auto: device on a GPU")
    e.add_argument("--local", action="store_true", help="run in this process instead of Spark tasks")
    e.add_argument("--master", default=None)
    e.add_argument("--conf", action="append", type=conf_pair, default=[], metavar="KEY=VALUE")
    i = sub.add_parser("index", help="FAISS index over the image (or text) embeddings")
    i.add_argument("--embeddings", required=True)
    i.add_argument("--out", required=True)
    i.add_argument("--kind", choices=["img", "text"], default="img")
    i.add_argument("--memory-mb", type=float, default=4096, help="memory budget of the index (default 4096)")
    k = sub.add_parser("knn", help="query an index by text, image file or key")
    k.add_argument("--index", required=True)
    k.add_argument("--embeddings", help="embeddings folder (for --key)")
    q = k.add_mutually_exclusive_group(required=True)
    q.add_argument("--text")
    q.add_argument("--image")
    q.add_argument("--key")
    k.add_argument("-k", type=int, default=10)
    _model_args(k)
    d = sub.add_parser("dedup", help="semantic near-duplicate removal and CLIP-score filter: a keep list")
    d.add_argument("--embeddings", required=True)
    d.add_argument("--out", required=True, help="keep list Parquet (key, keep, reason, duplicate_of)")
    d.add_argument("--threshold", type=float, default=0.95, help="cosine similarity of duplicates (default 0.95)")
    d.add_argument("--cluster-size", type=int, default=1000)
    d.add_argument("--min-clip-score", type=float, default=None)
    t = sub.add_parser("train", help="CLIP training on exported shards with open_clip's training code")
    t.add_argument("--shards", required=True)
    t.add_argument("--out", required=True, help="logs and checkpoints; a rerun resumes from the latest")
    _model_args(t)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--warmup", type=int, default=0, help="warmup steps")
    t.add_argument("--workers", type=int, default=0)


def _model_args(p) -> None:
    p.add_argument("--model", default="tiny", help="open_clip model name or ours (tiny); default tiny")
    p.add_argument("--pretrained", default=None, help="local checkpoint file (or an open_clip tag with hub access)")


@lru_cache(maxsize=2)
def worker_model(name: str, pretrained: str | None):
    """One model per worker process (per GPU), loaded once."""
    from curation.gpu.models import load_model

    return load_model(name, pretrained)


def _embed_task(out, name, pretrained, batch_size, decode, item):
    from curation.gpu.embed import embed_tar

    index, url = item
    return embed_tar(url, index, out, worker_model(name, pretrained), batch_size, decode)


def run(args) -> int:
    return {"embed": _embed, "index": _index, "knn": _knn, "dedup": _dedup, "train": _train}[args.command](args)


def _embed(args) -> int:
    tars = list_files(args.shards, (".tar",))
    if not tars:
        raise InputError(f"{args.shards}: no tars")
    items = list(enumerate(tars))
    task = partial(_embed_task, args.out, args.model, args.pretrained, args.batch_size, args.decode)
    if args.local:
        stats = [task(item) for item in items]
    else:
        from jobs.spark import get_spark, map_shards

        spark = get_spark(args.master, "curate embed", dict(args.conf))
        stats = map_shards(spark, task, items, "embed", rows_key="samples")
    summary = {"parts": len(stats), "samples": sum(s["samples"] for s in stats),
               "undecodable": sum(s["undecodable"] for s in stats)}
    write_json_atomic(join(args.out, "embed_stats.json"), summary)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def _index(args) -> int:
    from curation.gpu import index as faiss_index
    from curation.gpu.vectors import load_embeddings

    vectors, meta = load_embeddings(args.embeddings, args.kind)
    params = faiss_index.choose(len(vectors), vectors.shape[1], args.memory_mb)
    index = faiss_index.build(vectors, params)
    info = {"vectors": len(vectors), "dim": int(vectors.shape[1]), "kind": args.kind, **params}
    faiss_index.save(args.out, index, meta["key"].to_pylist(), info)
    sys.stdout.write(json.dumps(info) + "\n")
    return 0


def _knn(args) -> int:
    from curation.gpu import index as faiss_index

    index, keys, info = faiss_index.load(args.index)
    query = _query_vector(args, keys)
    for key, score in faiss_index.search(index, keys, query[None, :], args.k)[0]:
        sys.stdout.write(f"{score:.4f}\t{key}\n")
    return 0


def _query_vector(args, keys: list[str]) -> np.ndarray:
    import torch

    if args.key:
        from curation.gpu.vectors import load_embeddings

        if not args.embeddings:
            raise InputError("--key needs --embeddings")
        vectors, meta = load_embeddings(args.embeddings)
        found = [i for i, k in enumerate(meta["key"].to_pylist()) if k == args.key]
        if not found:
            raise InputError(f"key {args.key!r} is not in {args.embeddings}")
        return vectors[found[0]]
    bundle = worker_model(args.model, args.pretrained)
    with torch.no_grad():
        if args.text:
            vec = bundle.model.encode_text(bundle.tokenizer([args.text]).to(bundle.device))
        else:
            from PIL import Image

            with Image.open(args.image) as im:
                vec = bundle.model.encode_image(bundle.preprocess(im.convert("RGB"))[None].to(bundle.device))
    return torch.nn.functional.normalize(vec.float(), dim=-1)[0].cpu().numpy()


def _dedup(args) -> int:
    from curation.gpu.dedup import keep_list, near_duplicates
    from curation.gpu.vectors import load_embeddings

    vectors, meta = load_embeddings(args.embeddings)
    duplicate_of = near_duplicates(vectors, args.threshold, args.cluster_size)
    similarity = meta["similarity"].to_numpy(zero_copy_only=False) if "similarity" in meta.column_names else None
    table = keep_list(meta["key"].to_pylist(), duplicate_of, similarity, args.min_clip_score)
    write_parquet_atomic(args.out, table)
    reasons = pa.compute.value_counts(table["reason"]).to_pylist()
    sys.stdout.write(json.dumps({"samples": table.num_rows, "kept": int(sum(table["keep"].to_pylist())),
                                 "reasons": {r["values"] or "kept": r["counts"] for r in reasons}}) + "\n")
    return 0


def _train(args) -> int:
    from curation.gpu.train import train

    summary = train(args.shards, args.out, model=args.model, pretrained=args.pretrained, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, workers=args.workers)
    sys.stdout.write(json.dumps({"run": summary["run"], "checkpoints": summary["checkpoints"]}) + "\n")
    return 0


def removed_keys(keep_list_url: str) -> frozenset:
    """Keys a keep list removes."""
    table = read_parquet(keep_list_url)
    return frozenset(k for k, keep in zip(table["key"].to_pylist(), table["keep"].to_pylist()) if not keep)

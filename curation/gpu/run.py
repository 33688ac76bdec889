"""`curate embed|index|knn|dedup|train`: the GPU hand-off stages (they run on the CPU too).

``embed`` runs one task per tar: Spark tasks, or, with ``--executor local``, this process
(one process owns the GPU); on a cluster with GPU scheduling give
``--conf spark.task.resource.gpu.amount=1 --conf spark.executor.resource.gpu.amount=1``.
"""

import json
import sys

from curation.core.config import lineage
from curation.core.errors import InputError
from curation.core.io import (
    check_output_folder,
    exists,
    join,
    read_bytes,
    remove,
    write_bytes_atomic,
    write_json_atomic,
)
from curation.core.layout import shard_name
from curation.core.runner import drive


def _print(value) -> None:
    sys.stdout.write(json.dumps(value) + "\n")


def embed_command(cfg: dict, executor) -> int:
    from curation.gpu.embed import EmbedStage

    embed, model = cfg["embed"], cfg["model"]
    check_output_folder(embed.out, shards=embed.shards)
    stage = EmbedStage(embed.out, lineage(model, embed), embed.shards, embed.batch_size, embed.decode_threads)
    if not stage.plan():
        raise InputError(f"{embed.shards}: no tars")
    stats = drive(executor, stage, overwrite=embed.overwrite, info={"input": embed.shards}).stats
    summary = {"parts": len(stats), "samples": sum(s["samples"] for s in stats),
               "undecodable": sum(s["undecodable"] for s in stats)}
    write_json_atomic(join(embed.out, "embed_stats.json"), summary)
    _print(summary)
    return 0


def index_command(cfg: dict, executor) -> int:
    _print(run_index(executor, cfg["index"]))
    return 0


def run_index(executor, c) -> dict:
    """Flat (exact) indexes that fit the budget are built in this process; larger ones are
    trained on a sample here, filled per embeddings part in tasks and merged on disk."""
    import io

    import numpy as np

    from curation.gpu import index as faiss_index
    from curation.gpu import semdedup

    check_output_folder(c.out, embeddings=c.embeddings)
    if c.overwrite:
        remove(c.out)
    layout = semdedup.plan(c.embeddings, 1)
    dim = int(np.load(io.BytesIO(read_bytes(join(c.embeddings, f"{c.kind}_emb",
                                                  f"{c.kind}_emb_{layout['parts'][0]}.npy")))).shape[1])
    params = faiss_index.choose(layout["vectors"], dim, c.memory_mb, c.exact_up_to)
    info = {"vectors": layout["vectors"], "dim": dim, "kind": c.kind, **params}
    if params["kind"] == "flat":
        return faiss_index.build_from_embeddings(c.embeddings, c.out, c.kind, c.memory_mb)
    parts_dir = join(c.out, faiss_index.PARTS)
    offsets = dict(zip(layout["parts"], np.cumsum([0] + layout["sizes"][:-1]).tolist()))
    stage = faiss_index.IndexPartStage(parts_dir, {**params, **lineage(c)}, c.embeddings, c.kind, offsets)
    stage.claim({"shards": len(layout["parts"])})
    if not exists(join(parts_dir, faiss_index.TRAINED)):
        # About 64 training vectors per inverted list (faiss asks for 39 or more), at most 256k.
        want = min(max(64 * params["nlist"], 10_000), 262_144)
        sample = semdedup.sample_vectors(c.embeddings, layout, want, c.seed, c.kind)
        trained = faiss_index.train_empty(sample, params)
        import faiss

        write_bytes_atomic(join(parts_dir, faiss_index.TRAINED), faiss.serialize_index(trained).tobytes())
    drive(executor, stage)
    faiss_index.merge_parts(c.out, [shard_name(p) for p in layout["parts"]], params, info)
    faiss_index.write_keys(c.out, c.embeddings)
    return info


def knn_command(cfg: dict, executor=None) -> int:
    from curation.gpu import index as faiss_index

    c, model = cfg["knn"], cfg["model"]
    index, keys, _ = faiss_index.load(c.index)
    if c.key is not None:
        query = faiss_index.vector_of_key(c.embeddings, c.key)
    else:
        from curation.gpu.models import encode_query, worker_model

        query = encode_query(worker_model(model.model, model.pretrained), text=c.text, image=c.image)
    for key, score in faiss_index.search(index, keys, query[None, :], c.k)[0]:
        sys.stdout.write(f"{score:.4f}\t{key}\n")
    return 0


def run_dedup(executor, c) -> dict:
    """k-means on a sample (driver), assignment per part, then one task per group of
    clusters (``curation.gpu.semdedup``); with ``--run``, the data card's dedup block."""
    from curation.gpu import semdedup

    check_output_folder(c.out, embeddings=c.embeddings)
    if c.overwrite:
        remove(c.out)
    layout = semdedup.plan(c.embeddings, c.cluster_size, c.group_size)
    params = {**lineage(c), "keep": c.policy, "vectors": layout["vectors"]}
    run_counts = None
    if c.run is not None:
        from curation.gpu.dedup_card import run_counts_and_t

        run_counts = run_counts_and_t(c.run)[0]
    groups = semdedup.GroupStage(c.out, params, layout["groups"], run_counts)
    groups.claim({"shards": layout["groups"], "clusters": layout["clusters"], "parts": len(layout["parts"])})
    assign = semdedup.AssignStage(join(c.out, semdedup.ASSIGN), params, c.embeddings, None, layout["groups"],
                                  needs_entries=c.run is not None)
    assign.claim({"shards": len(layout["parts"])})
    if len(assign.done_names()) < len(layout["parts"]):
        assign.centroids = semdedup.centroids(c.embeddings, layout, c.seed, assign.out_dir)
    drive(executor, assign)
    stats = drive(executor, groups).stats
    totals: dict = {}
    for s in stats:
        for key, value in s.items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    summary = {"samples": totals.get("samples", 0), "kept": totals.get("kept", 0),
               "duplicates": totals.get("duplicates", 0), "duplicate_groups": totals.get("duplicate_groups", 0),
               "keep": c.policy, "clusters": layout["clusters"], "groups": layout["groups"]}
    if c.run is not None:
        from curation.gpu.dedup_card import dedup_block

        block = dedup_block(c.out, c.run, groups.policies, totals, params)
        summary["tail"] = {p["policy"]: {"covered_before": p["tail_covered_before"],
                                         "covered_after": p["tail_covered_after"]} for p in block["policies"]}
    write_json_atomic(join(c.out, "_dedup_stats.json"), summary)  # "_": not a part of the keep list
    return summary


def dedup_command(cfg: dict, executor) -> int:
    _print(run_dedup(executor, cfg["dedup"]))
    return 0


def train_command(cfg: dict, executor=None) -> int:
    from curation.gpu.train import train

    c, model = cfg["train"], cfg["model"]
    check_output_folder(c.out, shards=c.shards)
    if c.overwrite:
        remove(c.out)
    summary = train(c.shards, c.out, model=model.model, pretrained=model.pretrained, epochs=c.epochs,
                    batch_size=c.batch_size, lr=c.lr, warmup=c.warmup, workers=c.workers, seed=c.seed,
                    syn_ratio=c.syn_ratio)
    _print({"run": summary["run"], "checkpoints": summary["checkpoints"]})
    return 0

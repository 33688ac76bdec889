"""`curate embed|index|knn|dedup|train`: the GPU hand-off stages (they run on the CPU too).

``embed`` runs one Spark task per tar (``--local`` runs them in this process, as one task
per GPU would); on a cluster with GPU scheduling give
``--conf spark.task.resource.gpu.amount=1 --conf spark.executor.resource.gpu.amount=1``.
The work itself is ``curation.gpu``'s.
"""

import json
import sys

from curation.errors import InputError
from curation.io import check_output_folder, join, using_storage, write_json_atomic


def _print(value) -> None:
    sys.stdout.write(json.dumps(value) + "\n")


def embed_command(cfg: dict) -> int:
    from curation.gpu.embed import EmbedStage
    from curation.shards import run_local

    embed, model = cfg["embed"], cfg["model"]
    storage = cfg["storage"].options()
    with using_storage(storage):
        check_output_folder(embed.out, shards=embed.shards)
        stage = EmbedStage(embed.out, {"model": model.model, "pretrained": model.pretrained, "decode": embed.decode},
                           embed.shards, embed.batch_size)
        tars = stage.plan()
        if not tars:
            raise InputError(f"{embed.shards}: no tars")
        stage.claim({"shards": len(tars), "input": embed.shards})
        if embed.local:
            stats = run_local(stage, tars).stats
        else:
            from jobs.spark import run_stage, spark_for

            stats = run_stage(spark_for(cfg, "curate embed"), stage, tars, storage).stats
        summary = {"parts": len(stats), "samples": sum(s["samples"] for s in stats),
                   "undecodable": sum(s["undecodable"] for s in stats)}
        write_json_atomic(join(embed.out, "embed_stats.json"), summary)
    _print(summary)
    return 0


def index_command(cfg: dict) -> int:
    from curation.gpu.index import build_from_embeddings

    c = cfg["index"]
    _print(build_from_embeddings(c.embeddings, c.out, c.kind, c.memory_mb))
    return 0


def knn_command(cfg: dict) -> int:
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


def run_dedup(cfg: dict, spark=None) -> dict:
    """k-means on a sample (driver), assignment per part, then one task per group of
    clusters (``curation.gpu.semdedup``); Spark tasks, or this process with ``--local``."""
    from curation.gpu import semdedup
    from curation.shards import run_local

    c = cfg["dedup"]
    storage = cfg["storage"].options()
    with using_storage(storage):
        check_output_folder(c.out, embeddings=c.embeddings)
        layout = semdedup.plan(c.embeddings, c.cluster_size, c.group_size)
        params = {"embeddings": c.embeddings, "threshold": c.threshold, "min_clip_score": c.min_clip_score,
                  "cluster_size": c.cluster_size, "seed": c.seed, "vectors": layout["vectors"]}
        groups = semdedup.GroupStage(c.out, params, layout["groups"])
        groups.claim({"shards": layout["groups"], "clusters": layout["clusters"], "parts": len(layout["parts"])})
        assign = semdedup.AssignStage(join(c.out, semdedup.ASSIGN), params, c.embeddings, None, layout["groups"])
        assign.claim({"shards": len(layout["parts"])})
        if len(assign.done_names()) < len(layout["parts"]):
            assign.centroids = semdedup.centroids(c.embeddings, layout, c.seed, assign.out_dir)
        if c.local:
            run_local(assign, assign.plan())
            stats = run_local(groups, groups.plan()).stats
        else:
            from jobs.spark import run_stage, spark_for

            spark = spark or spark_for(cfg, "curate dedup")
            run_stage(spark, assign, assign.plan(), storage)
            stats = run_stage(spark, groups, groups.plan(), storage).stats
    summary = {"samples": sum(s["samples"] for s in stats), "kept": sum(s.get("kept", 0) for s in stats),
               "duplicates": sum(s["duplicates"] for s in stats), "clusters": layout["clusters"],
               "groups": layout["groups"]}
    with using_storage(storage):
        write_json_atomic(join(c.out, "_dedup_stats.json"), summary)  # "_": not a part of the keep list
    return summary


def dedup_command(cfg: dict) -> int:
    _print(run_dedup(cfg))
    return 0


def train_command(cfg: dict) -> int:
    from curation.gpu.train import train

    c, model = cfg["train"], cfg["model"]
    summary = train(c.shards, c.out, model=model.model, pretrained=model.pretrained, epochs=c.epochs,
                    batch_size=c.batch_size, lr=c.lr, warmup=c.warmup, workers=c.workers)
    _print({"run": summary["run"], "checkpoints": summary["checkpoints"]})
    return 0

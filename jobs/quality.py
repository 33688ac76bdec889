"""`curate quality` (score a pool's alt-texts on Spark, one task per pool shard) and
`curate quality fit` (one language's filter weights, in this process). The scoring and
fitting are ``curation.quality``'s."""

import json
import sys

from curation.io import check_output_folder, join, remove, using_storage, write_bytes_atomic, write_json_atomic
from curation.quality.score import add_histograms_by_lang, load_weights, weights_digest
from curation.quality.stage import QualityStage


def run_quality(spark, cfg, storage=None) -> dict:
    """Score every pool shard into ``cfg.out``; returns the summary (also ``quality_stats.json``)."""
    from jobs.spark import run_stage

    check_output_folder(cfg.out, pool=cfg.pool)
    weights = load_weights(cfg.quality_weights)
    params = {"text_column": cfg.text_column, "weights_sha256": weights_digest(weights)}
    stage = QualityStage(cfg.out, params, cfg.pool, weights)
    if cfg.overwrite:
        remove(cfg.out)
    shards = stage.plan()
    stage.claim({"pool": cfg.pool, "shards": len(shards), "shard_names": [s.name for s in shards],
                 "weights": cfg.quality_weights or "shipped"})
    stats = run_stage(spark, stage, shards, storage).stats
    histograms: dict = {}
    for s in stats:
        add_histograms_by_lang(histograms, s["histograms"])
    scored = sum(s["scored_rows"] for s in stats)
    reasons: dict = {}
    for s in stats:
        for reason, n in s["rejected_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    summary = {"shards": len(stats), "pool_rows": sum(s["pool_rows"] for s in stats), "scored_rows": scored,
               "rejected_rows": sum(s["rejected_rows"] for s in stats), "rejected_reasons": reasons,
               "mean_quality": round(sum(s["quality_sum"] for s in stats) / scored, 6) if scored else None,
               "histograms": histograms}
    write_json_atomic(join(cfg.out, "_quality_stats.json"), summary)  # "_": not a pool shard
    return summary


def quality_command(cfg: dict) -> int:
    from jobs.spark import spark_for

    storage = cfg["storage"].options()
    with using_storage(storage):
        summary = run_quality(spark_for(cfg, "curate quality"), cfg["quality"], storage)
    sys.stdout.write(json.dumps({k: v for k, v in summary.items() if k != "histograms"}) + "\n")
    return 0


def run_fit(cfg) -> dict:
    """Fit, write ``cfg.out`` and record it in ``manifest.json`` beside it."""
    from curation.io import exists, read_json
    from curation.lineage import code_version
    from curation.quality.filters import normalise_lang
    from curation.quality.fit import digest, fit_weights, read_texts, weights_bytes

    lang = normalise_lang(cfg.lang)
    reference = read_texts(_absolute_list(cfg.reference), lang)
    texts = read_texts(_absolute_list(cfg.texts), None if cfg.texts_all_langs else lang) if cfg.texts else []
    body = fit_weights(reference, texts, lang, cfg.order)
    body["inputs"] = {"reference": cfg.reference, "reference_sha256": digest(reference),
                      "texts": cfg.texts, "texts_all_langs": cfg.texts_all_langs, "texts_sha256": digest(texts),
                      "alt_texts": len(texts)}
    data = weights_bytes(body)
    write_bytes_atomic(_absolute_list(cfg.out), data)
    import hashlib

    folder, name = _absolute_list(cfg.out).rsplit("/", 1)
    manifest_url = join(folder, "manifest.json")
    manifest = read_json(manifest_url) if exists(manifest_url) else {}
    manifest[name] = {"lang": lang, "sha256": hashlib.sha256(data).hexdigest(), "order": cfg.order,
                      **body["inputs"], "code_version": code_version(),
                      "method": "arXiv 2405.01582: weight = relative perplexity drop of a character n-gram "
                                "reference model when a filter's failures are removed"}
    write_bytes_atomic(manifest_url, (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
                                      + "\n").encode())
    return body


def _absolute_list(paths: str) -> str:
    """Comma-separated paths made absolute (URLs kept); the weights file records them as given."""
    import os

    parts = (p.strip() for p in paths.split(","))
    return ",".join(p if "://" in p else os.path.abspath(p) for p in parts if p)


def fit_command(cfg: dict) -> int:
    body = run_fit(cfg["fit"])
    sys.stdout.write(json.dumps({"lang": body["lang"], "weights": {k: v["weight"] for k, v in body["filters"].items()},
                                "texts": body["texts"]}) + "\n")
    return 0

"""`curate quality` (score a pool's alt-texts on any executor, one task per pool shard) and
`curate quality fit` (one language's filter weights, in this process)."""

import json
import sys

from curation.core.config import lineage
from curation.core.io import join, write_bytes_atomic
from curation.core.runner import run_stage_command
from curation.quality.score import load_weights, weights_digest
from curation.quality.stage import QualityStage


def run_quality(executor, cfg) -> dict:
    """Score every pool shard into ``cfg.out``; returns the summary (also ``_quality_stats.json``)."""
    weights = load_weights(cfg.quality_weights)
    stage = QualityStage(cfg.out, {**lineage(cfg), "weights_sha256": weights_digest(weights)}, cfg.pool, weights)
    return run_stage_command(stage, executor, cfg.overwrite, {"pool": cfg.pool,
                                                               "weights": cfg.quality_weights or "shipped"})


def quality_command(cfg: dict, executor) -> int:
    summary = run_quality(executor, cfg["quality"])
    sys.stdout.write(json.dumps({k: v for k, v in summary.items() if k != "histograms"}) + "\n")
    return 0


def run_fit(cfg) -> dict:
    """Fit, write ``cfg.out`` and record it in ``manifest.json`` beside it."""
    from curation.core.io import exists, read_json
    from curation.core.lineage import code_version
    from curation.quality.filters import normalise_lang
    from curation.quality.fit import JUNK_SEED, digest, fit_weights, generated_junk, read_texts, weights_bytes

    lang = normalise_lang(cfg.lang)
    reference = read_texts(_absolute_list(cfg.reference), lang)
    junk = read_texts(_absolute_list(cfg.junk)) if cfg.junk else generated_junk(lang, cfg.junk_per_family)
    body = fit_weights(reference, junk, lang, cfg.order)
    body["inputs"] = {"reference": cfg.reference, "reference_sha256": digest(reference),
                      "junk": cfg.junk or f"curation.quality.junk, seed {JUNK_SEED}, {cfg.junk_per_family} a family",
                      "junk_sha256": digest(junk)}
    data = weights_bytes(body)
    write_bytes_atomic(_absolute_list(cfg.out), data)
    import hashlib

    folder, name = _absolute_list(cfg.out).rsplit("/", 1)
    manifest_url = join(folder, "manifest.json")
    manifest = read_json(manifest_url) if exists(manifest_url) else {}
    manifest[name] = {"lang": lang, "sha256": hashlib.sha256(data).hexdigest(), "order": cfg.order,
                      **body["inputs"], "code_version": code_version(),
                      "method": "weight = P(junk | the filter fails), descriptive and junk halves equally likely; "
                                "score = product of (1 - weight) over the failed filters (curation.quality.fit); "
                                "perplexity_drop = arXiv 2405.01582's weight, recorded"}
    write_bytes_atomic(manifest_url, (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
                                      + "\n").encode())
    return body


def _absolute_list(paths: str) -> str:
    """Comma-separated paths made absolute (URLs kept); the weights file records them as given."""
    import os

    parts = (p.strip() for p in paths.split(","))
    return ",".join(p if "://" in p else os.path.abspath(p) for p in parts if p)


def fit_command(cfg: dict, executor=None) -> int:
    body = run_fit(cfg["fit"])
    sys.stdout.write(json.dumps({"lang": body["lang"], "weights": {k: v["weight"] for k, v in body["filters"].items()},
                                "reference_texts": body["reference_texts"], "junk_texts": body["junk_texts"]}) + "\n")
    return 0

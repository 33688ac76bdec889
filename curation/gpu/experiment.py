"""`curate experiment`: does curation help? From one pool, the curated subset (one arm per
``--t``, ``--t2``) and a uniform baseline of the same size drawn from the matched rows
(``curation.chain.baseline``); each exported, trained for the same number of steps with the
same seed, and evaluated zero-shot; one table and one plot in ``EXP/report.html``.

Every step is a stage (curate, export, train, eval) run on the command's executor, and
resumes as they do: a rerun skips the curated runs, baseline, tars, trainings and
evaluations that are complete.

    EXP/curated-t<T>/        the curated run (curate --unit text)
    EXP/baseline/curated/    the baseline's rows, as curated shards
    EXP/<arm>/tars/          its export;  EXP/<arm>/train/  its training;  EXP/<arm>/results.json
    EXP/results.json, EXP/report.html, EXP/experiment.png
"""

import base64
import html
import json
import re
import sys

from curation.core.io import exists, join, read_json, write_bytes_atomic, write_json_atomic

METRIC = {"zeroshot_classification": "acc1", "zeroshot_retrieval": "image_retrieval_recall@1"}


def _curate(executor, c, t: float, run: str) -> None:
    """One curated arm: `curate curate --unit text` at ``t`` into ``run`` (resumed when done)."""
    from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
    from curation.chain.run import curate_command

    curate_command({"match": MatchConfig(pool=c.pool, metadata=c.metadata, out=run), "count": CountConfig(out=run),
                    "balance": BalanceConfig(out=run, t=t, seed=c.seed, unit="text")}, executor)


def _export(executor, c, source: str, tars: str) -> None:
    from curation.export.config import ExportConfig
    from curation.export.policy import FetchOptions
    from curation.export.run import run_export

    run_export(executor, ExportConfig(curated=source, out=tars), FetchOptions(allow_local_files=c.allow_local_files))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def arms(c, executor) -> list[tuple[str, str]]:
    """(name, folder to export) of every arm, its curated runs and baseline made first."""
    from curation.chain.baseline import uniform_baseline

    found = []
    for t in [c.t] + ([c.t2] if c.t2 is not None else []):
        run = join(c.out, f"curated-t{t:g}")
        _curate(executor, c, t, run)
        found.append((f"curated t={t:g}", run))
    first = found[0][1]
    size = read_json(join(first, "datacard.json"))["curated_rows"]
    baseline = join(c.out, "baseline")
    done = join(baseline, "_baseline.json")
    if not (exists(done) and read_json(done) == {"rows": size, "seed": c.seed, "from": first}):
        uniform_baseline(join(first, "matched"), size, c.seed, join(baseline, "curated"))
        write_json_atomic(done, {"rows": size, "seed": c.seed, "from": first})
    found.append(("uniform baseline", join(baseline, "curated")))
    return found


def run_arm(c, name: str, source: str, executor) -> dict:
    """Export, train and evaluate one arm (each skipped when done)."""
    from curation.gpu.evaluate import evaluate_dataset
    from curation.gpu.models import load_model
    from curation.gpu.train import train

    folder = join(c.out, _slug(name))
    tars = join(folder, "tars")
    _export(executor, c, source, tars)
    summary_url = join(folder, "train", "train_summary.json")
    if not exists(summary_url):
        train(tars, join(folder, "train"), model=c.model, epochs=1, batch_size=c.batch_size, lr=c.lr, seed=c.seed,
              num_samples=c.steps * c.batch_size)
    summary = read_json(summary_url)
    names = summary["checkpoints"]
    checkpoint = join(summary["run"], "checkpoints", "epoch_latest.pt" if "epoch_latest.pt" in names else
                      max(names, key=lambda n: int(re.sub(r"\D", "", n) or 0)))
    results_url = join(folder, "results.json")
    if exists(results_url) and read_json(results_url).get("checkpoint") == checkpoint:
        return read_json(results_url)
    bundle = load_model(c.model, checkpoint)
    sizes = read_json(join(tars, "sizes.json"))
    result = {"arm": name, "samples": sum(sizes.values()), "checkpoint": checkpoint,
              "trained_samples": c.steps * c.batch_size,
              "results": [evaluate_dataset(bundle, d, c.batch_size) for d in c.eval]}
    write_json_atomic(results_url, result)
    return result


def report(c, results: list[dict]) -> str:
    """``EXP/report.html``: the table of every arm's metrics and the comparison plot."""
    from curation.report.plots import experiment_plot

    datasets = [r["dataset"] for r in results[0]["results"]]
    metric_of = {r["dataset"]: METRIC[r["task"]] for r in results[0]["results"]}
    values = [[next(x["metrics"][metric_of[x["dataset"]]] for x in arm["results"] if x["dataset"] == d)
               for d in datasets] for arm in results]
    png = experiment_plot([a["arm"] for a in results], datasets, values, "/".join(sorted(set(metric_of.values()))))
    write_bytes_atomic(join(c.out, "experiment.png"), png)
    head = "".join(f"<th>{html.escape(d)} ({html.escape(metric_of[d])})</th>" for d in datasets)
    rows = "".join(f"<tr><td>{html.escape(a['arm'])}</td><td>{a['samples']}</td>"
                   + "".join(f"<td>{v:.4f}</td>" for v in row) + "</tr>" for a, row in zip(results, values))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Experiment</title></head><body>"
            f"<h1>Curated against a uniform baseline</h1><p>pool {html.escape(c.pool)}; model {html.escape(c.model)},"
            f" {c.steps} steps of {c.batch_size} samples per arm, seed {c.seed}.</p>"
            f"<table border='1'><tr><th>arm</th><th>samples</th>{head}</tr>{rows}</table>"
            f"<img alt='comparison' src='data:image/png;base64,{base64.b64encode(png).decode()}'></body></html>\n")
    write_bytes_atomic(join(c.out, "report.html"), page.encode("utf-8"))
    return join(c.out, "report.html")


def experiment_command(cfg: dict, executor) -> int:
    import os

    c = cfg["experiment"]
    for folder in c.eval:
        from curation.gpu.evaluate import dataset_kind

        dataset_kind(folder)  # every evaluation set checked before any work
    c.eval = [os.path.abspath(d) for d in c.eval]
    results = [run_arm(c, name, source, executor) for name, source in arms(c, executor)]
    write_json_atomic(join(c.out, "results.json"), {"arms": results})
    page = report(c, results)
    for r in results:
        sys.stdout.write(json.dumps({"arm": r["arm"], "samples": r["samples"],
                                     **{x["dataset"]: x["metrics"] for x in r["results"]}}) + "\n")
    sys.stdout.write(f"report         {page}\n")
    return 0

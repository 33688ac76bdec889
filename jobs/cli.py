"""The ``curate`` command: one subcommand per stage, ``--help`` on each.

Flags are turned into the typed configs of ``curation.config`` here, at the edge; the
runners receive those values, never the argparse namespace.
"""

import argparse
import logging
import sys
import time

from curation.config import BalanceConfig, CountConfig, MatchConfig, SparkOptions
from curation.errors import CurationError
from curation.storage import StorageOptions
from curation.storage import apply as storage_apply
from curation.variants import DEFAULT_VARIANT, VARIANTS
from jobs import export, gpu, ingest, metadata_cli
from jobs.common import absolute, conf_pair

log = logging.getLogger("curate")


DEFAULTS = {"master": None, "conf": {}, "text_column": "text", "variant": DEFAULT_VARIANT, "default_lang": "en",
            "t": 20000.0, "seed": 0, "reference_lang": "en", "overwrite": False, "metadata": None,
            "s3_endpoint": None, "s3_profile": None, "s3_region": None}
REQUIRED = {"match": ("pool", "metadata", "out"), "curate": ("pool", "metadata", "out"), "count": ("out",),
            "balance": ("out",)}
YAML_SECTIONS = ("spark", "storage", "match", "count", "balance")
S = argparse.SUPPRESS


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML file describing the run; flags given here override it")
    p.add_argument("--out", default=S, help="run folder for all outputs, local or s3://")
    g = p.add_argument_group("Spark")
    g.add_argument("--master", default=S, help="Spark master URL (default: spark-submit's --master, else local[*])")
    g.add_argument("--conf", action="append", type=conf_pair, default=S, metavar="KEY=VALUE",
                   help="Spark configuration, repeatable (e.g. --conf spark.executor.memory=4g)")
    g = p.add_argument_group("Storage (credentials come from the AWS environment or profile, never from flags)")
    g.add_argument("--s3-endpoint", default=S, help="S3-compatible endpoint URL (default: $AWS_ENDPOINT_URL)")
    g.add_argument("--s3-profile", default=S, help="AWS profile (default: $AWS_PROFILE)")
    g.add_argument("--s3-region", default=S, help="AWS region (default: $AWS_REGION)")


def _match_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", default=S, help="folder of pool shards (Parquet or JSONL), local or s3://")
    p.add_argument("--metadata", default=S,
                   help="metadata list (JSON list of strings, or one entry a line), or a folder of <lang>.json lists")
    p.add_argument("--text-column", default=S, help="column holding the alt-text (default: text)")
    p.add_argument("--variant", default=S, choices=sorted(VARIANTS),
                   help=f"matching variant (default: {DEFAULT_VARIANT})")
    p.add_argument("--default-lang", default=S,
                   help="per-language metadata folder: list for texts whose lang has none (default: en)")


def _balance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--t", type=float, default=S, help="balancing threshold t (default: 20000)")
    p.add_argument("--seed", type=int, default=S, help="seed of the hash coin (default: 0)")
    p.add_argument("--reference-lang", default=S,
                   help="per-language metadata: the language that gets --t; others match its tail proportion")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description="MetaCLIP curation of image/alt-text pools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    specs = {
        "match": ("match every text against the metadata; write matched/ shards and per-shard counts",
                  [_match_args]),
        "count": ("sum per-shard counts into entry_counts.parquet/.json", []),
        "balance": ("keep texts with the balancing probability; write curated/ and datacard.json", [_balance_args]),
        "curate": ("match, count and balance in one run", [_match_args, _balance_args]),
    }
    for name, (help_text, adders) in specs.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common_args(p)
        if name == "count":
            p.add_argument("--metadata", default=S, help="metadata list (default: the one match used)")
        for add in adders:
            add(p)
        if name != "count":
            p.add_argument("--overwrite", action="store_true", default=S, help="discard this stage's earlier outputs")
    rp = sub.add_parser("report", help="write report.html (plots and tables) from a run's data card",
                        description="Write report.html and report/*.png from datacard.json and the entry counts.")
    rp.add_argument("--out", required=True, help="run folder holding datacard.json")
    st = sub.add_parser("status", help="what is done and what is missing in a run folder",
                        description="Shards done/total per stage, missing shards, rows so far.")
    st.add_argument("--out", required=True, help="run folder")
    st.add_argument("--s3-endpoint", default=None)
    export.add_parser(sub)
    ingest.add_parser(sub)
    gpu.add_parsers(sub, conf_pair)
    metadata_cli.add_parser(sub)
    return parser


def load_yaml_config(path: str) -> dict:
    """Flatten a run YAML: top-level keys are flag names (``-`` or ``_``); the sections
    ``spark``, ``storage``, ``match``, ``count``, ``balance`` may group them."""
    import yaml

    from curation.io import read_bytes

    raw = yaml.safe_load(read_bytes(path)) or {}
    if not isinstance(raw, dict):
        raise CurationError(f"{path}: a run config is a YAML mapping of option names to values")
    flat: dict = {}
    for key, value in raw.items():
        if key in YAML_SECTIONS and isinstance(value, dict) and key != "conf":
            flat.update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            flat[key.replace("-", "_")] = value
    unknown = sorted(set(flat) - set(DEFAULTS) - {"pool", "out"})
    if unknown:
        raise CurationError(f"{path}: unknown options {', '.join(unknown)}")
    return flat


def resolve(args) -> dict:
    """Defaults, then the YAML file, then the flags given on the command line."""
    given = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    if "conf" in given:
        given["conf"] = dict(given["conf"])
    values = {**DEFAULTS, **(load_yaml_config(args.config) if args.config else {}), **given}
    values["conf"] = {str(k): str(v) for k, v in (values.get("conf") or {}).items()}
    missing = [k for k in REQUIRED[args.command] if not values.get(k)]
    if missing:
        raise CurationError(f"curate {args.command}: missing {', '.join('--' + m.replace('_', '-') for m in missing)}"
                            " (on the command line or in --config)")
    return values


def _configs(command: str, v: dict) -> dict:
    v = {**v, **{k: absolute(v.get(k)) for k in ("pool", "metadata", "out")}}
    storage = StorageOptions.from_env(v["s3_endpoint"], v["s3_profile"], v["s3_region"])
    out = {"spark": SparkOptions(master=v["master"], conf=v["conf"], storage=storage)}
    if command in ("match", "curate"):
        out["match"] = MatchConfig(pool=v["pool"], metadata=v["metadata"], out=v["out"], text_column=v["text_column"],
                                   variant=v["variant"], default_lang=v["default_lang"], overwrite=v["overwrite"])
    if command in ("count", "curate"):
        out["count"] = CountConfig(out=v["out"], metadata=v["metadata"])
    if command in ("balance", "curate"):
        out["balance"] = BalanceConfig(out=v["out"], t=float(v["t"]), seed=int(v["seed"]),
                                       reference_lang=v["reference_lang"], overwrite=v["overwrite"])
    return out


def run(command: str, configs: dict) -> dict | None:
    """Run ``command`` with its typed configs; returns the data card when one is made."""
    from jobs import runner
    from jobs.spark import get_spark

    spark_opts = configs["spark"]
    storage_apply(spark_opts.storage)
    spark = get_spark(spark_opts.master, f"curate {command}", spark_opts.conf)
    timings: dict = {}
    matched = None
    if "match" in configs:
        start = time.monotonic()
        matched = runner.run_match(spark, configs["match"], storage=spark_opts.storage)
        timings["match"] = round(time.monotonic() - start, 3)
    if "count" in configs:
        start = time.monotonic()
        runner.run_count(spark, configs["count"], storage=spark_opts.storage, matched=matched)
        timings["count"] = round(time.monotonic() - start, 3)
    if "balance" in configs:
        return runner.run_balance(spark, configs["balance"], timings, storage=spark_opts.storage, matched=matched)
    return None


def print_summary(card: dict, out: str) -> None:
    """A short human summary of a data card, on stdout."""
    lines = [
        f"pool rows      {card['pool_rows']:>10,}",
        f"  matched      {card['matched_rows']:>10,}",
        f"  unmatched    {card['unmatched_rows']:>10,}",
        f"  rejected     {card['rejected_rows']:>10,}",
        f"curated rows   {card['curated_rows']:>10,}  (t={card['t']:g}, seed={card['seed']})",
        f"entries        {card['entries_matched']:,} of {card['entries']:,} matched, "
        f"{card['entries_above_t']:,} above t, tail proportion {card['tail_proportion']:.3f}",
        "top entries    " + ", ".join(f"{e['entry']!r} {e['count']}->{e['curated']}" for e in card["top_entries"][:5]),
        f"outputs        {out}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "metadata":
            return metadata_cli.run(args)
        if args.command == "report":
            return _report(args.out)
        if args.command == "status":
            return _status(args)
        if args.command == "export":
            return export.run_command(args)
        if args.command == "ingest":
            return ingest.run_command(args)
        if args.command in ("embed", "index", "knn", "dedup", "train"):
            return gpu.run(args)
        values = resolve(args)
        card = run(args.command, _configs(args.command, values))
    except CurationError as exc:
        log.error("%s", exc)
        return 2
    if card is not None:
        print_summary(card, values["out"])
    if args.command == "curate":
        return _report(values["out"])
    return 0


def _status(args) -> int:
    import json

    from curation.status import run_status

    storage_apply(StorageOptions.from_env(args.s3_endpoint))
    sys.stdout.write(json.dumps(run_status(args.out), indent=2) + "\n")
    return 0


def _report(out: str) -> int:
    from curation.report import write_report

    sys.stdout.write(f"report         {write_report(out)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

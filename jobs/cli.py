"""The ``curate`` command: one subcommand per stage, ``--help`` on each.

Flags are turned into the typed configs of ``curation.config`` here, at the edge; the
runners receive those values, never the argparse namespace.
"""

import argparse
import logging
import os
import sys
import time

from curation.config import BalanceConfig, CountConfig, MatchConfig, SparkOptions
from curation.errors import CurationError
from curation.storage import StorageOptions
from curation.storage import apply as storage_apply
from curation.variants import DEFAULT_VARIANT, VARIANTS
from jobs import gpu, metadata_cli

log = logging.getLogger("curate")


DEFAULTS = {"master": None, "conf": {}, "text_column": "text", "variant": DEFAULT_VARIANT, "default_lang": "en",
            "t": 20000.0, "seed": 0, "reference_lang": "en", "overwrite": False, "metadata": None,
            "s3_endpoint": None, "s3_profile": None, "s3_region": None}
REQUIRED = {"match": ("pool", "metadata", "out"), "curate": ("pool", "metadata", "out"), "count": ("out",),
            "balance": ("out",)}
YAML_SECTIONS = ("spark", "storage", "match", "count", "balance")
S = argparse.SUPPRESS


def _conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {text!r}")
    return key, value


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML file describing the run; flags given here override it")
    p.add_argument("--out", default=S, help="run folder for all outputs, local or s3://")
    g = p.add_argument_group("Spark")
    g.add_argument("--master", default=S, help="Spark master URL (default: spark-submit's --master, else local[*])")
    g.add_argument("--conf", action="append", type=_conf_pair, default=S, metavar="KEY=VALUE",
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
    _export_parser(sub)
    _ingest_parser(sub)
    gpu.add_parsers(sub, _conf_pair)
    metadata_cli.add_parser(sub)
    return parser


def _export_parser(sub) -> None:
    ep = sub.add_parser("export", help="write curated rows as WebDataset tars (+ sizes.json) for training",
                        description="Write WebDataset tars with images, alt-texts and entries, a status Parquet per "
                                    "tar and sizes.json; --online exports all matched pairs with probabilities.")
    ep.add_argument("--curated", required=True, help="run folder (or its curated/ folder), local or s3://")
    ep.add_argument("--out", required=True, help="folder for NNNNN.tar, NNNNN.parquet, sizes.json")
    ep.add_argument("--samples-per-tar", type=int, default=10_000, help="samples per tar (default 10000)")
    ep.add_argument("--shuffle-seed", type=int, default=None, help="deterministic shuffle before sharding")
    ep.add_argument("--online", action="store_true",
                    help="export every matched pair + probabilities.npy for online balancing")
    g = ep.add_argument_group("images (from the image column, else fetched from url)")
    g.add_argument("--resize", type=int, default=None, help="resize so that one side is this many pixels")
    g.add_argument("--resize-mode", choices=["longest", "shortest"], default="longest")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds per fetch (default 10)")
    g.add_argument("--retries", type=int, default=1, help="extra tries of a failed http(s) fetch (default 1)")
    g.add_argument("--max-bytes", type=int, default=20 * 2**20, help="largest image accepted (default 20 MiB)")
    g.add_argument("--threads", type=int, default=16, help="concurrent fetches per task (default 16)")
    ep.add_argument("--text-column", default="text")
    ep.add_argument("--keep-list", default=None, help="keep list from `curate dedup`: skip the samples it removes")
    ep.add_argument("--master", default=None)
    ep.add_argument("--conf", action="append", type=_conf_pair, default=[], metavar="KEY=VALUE")
    ep.add_argument("--s3-endpoint", default=None)


def _ingest_parser(sub) -> None:
    ip = sub.add_parser("ingest", help="CommonCrawl WARC/WAT files (or url+caption tables) to pool shards",
                        description="Extract <img> alt-texts from WARC/WAT files (or url+caption tables), identify "
                                    "languages, remove duplicate (url, text) pairs across files, write pool shards.")
    ip.add_argument("--input", required=True, help="comma-separated files, folders or glob patterns")
    ip.add_argument("--out", required=True, help="pool folder to write (NNNNN.parquet, ingest_stats.json)")
    ip.add_argument("--shards", type=int, default=None, help="output shards (default: one per input file)")
    ip.add_argument("--max-text-chars", type=int, default=None, help="drop alt-texts longer than this")
    ip.add_argument("--no-langid", action="store_true", help="skip language identification")
    ip.add_argument("--url-column", default="url", help="tables: the image URL column (default url)")
    ip.add_argument("--caption-column", default="caption", help="tables: the caption column (default caption)")
    ip.add_argument("--master", default=None)
    ip.add_argument("--conf", action="append", type=_conf_pair, default=[], metavar="KEY=VALUE")
    ip.add_argument("--s3-endpoint", default=None)


def _ingest(args) -> int:
    from curation.ingest.extract import IngestOptions
    from jobs.ingest import IngestConfig, run_ingest
    from jobs.spark import get_spark

    storage = StorageOptions.from_env(args.s3_endpoint)
    storage_apply(storage)
    opts = IngestOptions(max_text_chars=args.max_text_chars, langid=not args.no_langid, url_column=args.url_column,
                         caption_column=args.caption_column)
    inputs = ",".join(absolute(p.strip()) for p in args.input.split(","))
    spark = get_spark(args.master, "curate ingest", dict(args.conf))
    summary = run_ingest(spark, IngestConfig(inputs, absolute(args.out), args.shards, opts), storage)
    sys.stdout.write(f"files          {summary['files']}\npairs          {summary['pairs_before_dedup']:,} -> "
                     f"{summary['pairs_after_dedup']:,} after dedup\nbad records    {summary['bad_records']}\n"
                     f"pool           {absolute(args.out)}\n")
    return 0


def _export(args) -> int:
    from curation.export import ExportOptions
    from curation.images import FetchOptions, ResizeOptions
    from jobs.export import ExportConfig, run_export
    from jobs.spark import get_spark

    storage = StorageOptions.from_env(args.s3_endpoint)
    storage_apply(storage)
    opts = ExportOptions(samples_per_tar=args.samples_per_tar, shuffle_seed=args.shuffle_seed,
                         text_column=args.text_column,
                         fetch=FetchOptions(args.timeout, args.retries, args.max_bytes, args.threads),
                         resize=ResizeOptions(args.resize, args.resize_mode))
    spark = get_spark(args.master, "curate export", dict(args.conf))
    removed = gpu.removed_keys(args.keep_list) if args.keep_list else frozenset()
    config = ExportConfig(absolute(args.curated), absolute(args.out), args.online, opts, removed)
    summary = run_export(spark, config, storage)
    sys.stdout.write(f"tars           {summary['tars']}\nsamples        {summary['samples']:,} of "
                     f"{summary['given']:,}\nfailed         {summary['failed'] or 'none'}\n"
                     f"sizes          {absolute(args.out)}/sizes.json\n")
    return 0


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


def absolute(url: str | None) -> str | None:
    """Local paths made absolute on the driver: executors run in other folders."""
    if url is None or "://" in url:
        return url
    return os.path.abspath(url)


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
            return _export(args)
        if args.command == "ingest":
            return _ingest(args)
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

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
from curation.variants import DEFAULT_VARIANT, VARIANTS
from jobs import metadata_cli

log = logging.getLogger("curate")


def _conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {text!r}")
    return key, value


def _spark_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Spark")
    g.add_argument("--master", default=None,
                   help="Spark master URL (default: spark-submit's --master, else local[*])")
    g.add_argument("--conf", action="append", type=_conf_pair, default=[], metavar="KEY=VALUE",
                   help="Spark configuration, repeatable (e.g. --conf spark.executor.memory=4g)")


def _match_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="folder of pool shards (Parquet or JSONL), local or s3://")
    p.add_argument("--metadata", required=True,
                   help="metadata list (JSON list of strings, or one entry a line), or a folder of <lang>.json lists")
    p.add_argument("--text-column", default="text", help="column holding the alt-text (default: text)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS),
                   help=f"matching variant (default: {DEFAULT_VARIANT})")
    p.add_argument("--default-lang", default="en",
                   help="per-language metadata folder: list for texts whose lang has none (default: en)")


def _balance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--t", type=float, default=20000, help="balancing threshold t (default: 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hash coin (default: 0)")
    p.add_argument("--reference-lang", default="en",
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
        p.add_argument("--out", required=True, help="run folder for all outputs, local or s3://")
        if name == "count":
            p.add_argument("--metadata", default=None, help="metadata list (default: the one match used)")
        for add in adders:
            add(p)
        if name != "count":
            p.add_argument("--overwrite", action="store_true", help="discard this stage's earlier outputs first")
        _spark_args(p)
    rp = sub.add_parser("report", help="write report.html (plots and tables) from a run's data card",
                        description="Write report.html and report/*.png from datacard.json and the entry counts.")
    rp.add_argument("--out", required=True, help="run folder holding datacard.json")
    metadata_cli.add_parser(sub)
    return parser


def _configs(args) -> dict:
    out = {"spark": SparkOptions(master=args.master, conf=dict(args.conf))}
    if args.command in ("match", "curate"):
        out["match"] = MatchConfig(pool=args.pool, metadata=args.metadata, out=args.out,
                                   text_column=args.text_column, variant=args.variant,
                                   default_lang=args.default_lang, overwrite=args.overwrite)
    if args.command in ("count", "curate"):
        out["count"] = CountConfig(out=args.out, metadata=getattr(args, "metadata", None))
    if args.command in ("balance", "curate"):
        out["balance"] = BalanceConfig(out=args.out, t=args.t, seed=args.seed, reference_lang=args.reference_lang,
                                       overwrite=args.overwrite)
    return out


def run(command: str, configs: dict) -> dict | None:
    """Run ``command`` with its typed configs; returns the data card when one is made."""
    from jobs import runner
    from jobs.spark import get_spark

    spark_opts = configs["spark"]
    spark = get_spark(spark_opts.master, f"curate {command}", spark_opts.conf)
    timings: dict = {}
    for stage, fn in (("match", runner.run_match), ("count", runner.run_count)):
        if stage in configs:
            start = time.monotonic()
            fn(spark, configs[stage])
            timings[stage] = round(time.monotonic() - start, 3)
    if "balance" in configs:
        return runner.run_balance(spark, configs["balance"], timings)
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
        card = run(args.command, _configs(args))
    except CurationError as exc:
        log.error("%s", exc)
        return 2
    if card is not None:
        print_summary(card, args.out)
    if args.command == "curate":
        return _report(args.out)
    return 0


def _report(out: str) -> int:
    from curation.report import write_report

    sys.stdout.write(f"report         {write_report(out)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

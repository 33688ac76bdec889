"""The ``curate`` command: one subcommand per stage, ``--help`` on each.

Commands are a registry: each names its typed configs (``curation.config``) and the
function that runs it. Flags, help texts, defaults and YAML sections are generated from the
configs' fields, so each default is stated once. Values come from the defaults, then the
``--config`` YAML file, then the flags given on the command line.
"""

import argparse
import dataclasses
import importlib
import logging
import sys
import types
from dataclasses import dataclass

from curation import config as C
from curation.errors import CurationError

log = logging.getLogger("curate")
S = argparse.SUPPRESS
SPARK = (C.SparkConfig, C.StorageConfig)


@dataclass(frozen=True)
class Command:
    help: str
    configs: tuple
    run: str  # "module:function", imported when the command runs (so the CLI loads no Spark)


def _curate_configs() -> tuple:
    """``curate curate``: match, count, balance, and the configs of the filter stages."""
    from curation.pipeline import filter_stages

    return (*SPARK, C.MatchConfig, C.CountConfig, C.BalanceConfig,
            *(s.Config for s in filter_stages() if s.Config is not None))


COMMANDS = {
    "match": Command("match every text against the metadata; write matched/ shards and per-shard counts",
                     (*SPARK, C.MatchConfig), "jobs.runner:match_command"),
    "count": Command("sum per-shard counts into entry_counts.parquet/.json", (*SPARK, C.CountConfig),
                     "jobs.runner:count_command"),
    "balance": Command("keep texts with the balancing probability; write curated/ and datacard.json",
                       (*SPARK, C.BalanceConfig), "jobs.runner:balance_command"),
    "curate": Command("match, (filter,) count and balance in one run, then the report", _curate_configs,
                      "jobs.runner:curate_command"),
    "report": Command("write report.html (plots and tables) from a run's data card", (C.OutConfig,),
                      "jobs.cli:report_command"),
    "status": Command("what is done and what is missing in a run folder, stage by stage",
                      (C.StorageConfig, C.StatusConfig), "jobs.cli:status_command"),
    "export": Command("write curated rows as WebDataset tars (+ sizes.json) for training",
                      (*SPARK, C.ExportConfig), "jobs.export:export_command"),
    "ingest": Command("CommonCrawl WARC/WAT files (or url+caption tables) to pool shards",
                      (*SPARK, C.IngestConfig), "jobs.ingest:ingest_command"),
    "embed": Command("open_clip image and text embeddings of exported tars (clip-retrieval layout)",
                     (*SPARK, C.ModelConfig, C.EmbedConfig), "jobs.gpu:embed_command"),
    "index": Command("FAISS index over the image (or text) embeddings", (*SPARK, C.IndexConfig),
                     "jobs.gpu:index_command"),
    "knn": Command("query an index by text, image file or key", (C.ModelConfig, C.KnnConfig), "jobs.gpu:knn_command"),
    "dedup": Command("semantic near-duplicate removal and CLIP-score filter: a keep list",
                     (*SPARK, C.DedupConfig), "jobs.gpu:dedup_command"),
    "train": Command("CLIP training on exported shards with open_clip's training code",
                     (C.ModelConfig, C.TrainConfig), "jobs.gpu:train_command"),
    "quality": {
        "": Command("score every pool row's alt-text: the pool's shards with a quality column in [0, 1]",
                    (*SPARK, C.QualityConfig), "jobs.quality:quality_command"),
        "fit": Command("fit one language's filter weights against a reference language model",
                       (C.QualityFitConfig,), "jobs.quality:fit_command"),
    },
    "caption": Command("write one synthetic caption per curated image with an open_clip CoCa model",
                       (*SPARK, C.CaptionConfig), "jobs.caption:caption_command"),
    "captions": {
        "import": Command("take captions from another captioner (Parquet/JSONL with key and caption)",
                          (*SPARK, C.CaptionsImportConfig), "jobs.caption:import_command"),
    },
    "metadata": {
        "build": Command("build a list from WordNet, n-gram counts, page views and extra lists",
                         (C.MetadataBuildConfig,), "jobs.metadata_cli:build_command"),
        "stats": Command("summary numbers of a list (and its manifest)", (C.MetadataStatsConfig,),
                         "jobs.metadata_cli:stats_command"),
        "diff": Command("added/removed entries and an old -> new id mapping", (C.MetadataDiffConfig,),
                        "jobs.metadata_cli:diff_command"),
        "import": Command("take an existing MetaCLIP metadata.json as is, with a manifest",
                          (C.MetadataImportConfig,), "jobs.metadata_cli:import_command"),
        "ngrams": Command("Spark job: unigram/bigram counts of a corpus, page-view sums", (*SPARK, C.NgramsConfig),
                          "jobs.metadata_cli:ngrams_command"),
    },
}


def configs_of(command: Command) -> tuple:
    return command.configs() if callable(command.configs) else command.configs


def _fields(configs: tuple) -> dict:
    """Every field of the configs by name (the first definition wins; shared names are one flag)."""
    found: dict = {}
    for cls in configs:
        for f in dataclasses.fields(cls):
            found.setdefault(f.name, f)
    return found


def _required(configs: tuple) -> set:
    return {f.name for cls in configs for f in dataclasses.fields(cls) if _default(f) is C.REQUIRED}


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return C.REQUIRED


def _base_type(tp):
    if isinstance(tp, types.UnionType):
        return next(a for a in tp.__args__ if a is not type(None))
    return tp


def _conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {text!r}")
    return key, value


def _add_field(p: argparse.ArgumentParser, f, required: bool) -> None:
    meta, default, tp = f.metadata, _default(f), _base_type(f.type)
    help_text = meta.get("help", "")
    if default is not C.REQUIRED and default is not None and tp is not bool and default not in ({}, []):
        help_text += f" (default: {default})"
    if required and not meta.get("positional"):
        help_text += " [required]"
    if meta.get("positional"):
        p.add_argument(f.name, help=help_text)
        return
    flag = meta.get("flag") or "--" + f.name.replace("_", "-")
    kwargs: dict = {"default": S, "help": help_text, "dest": f.name}
    if tp is bool:
        kwargs["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
    elif tp is dict:
        kwargs.update(action="append", type=_conf_pair, metavar="KEY=VALUE")
    elif tp is list:
        kwargs.update(action="append")
    else:
        kwargs.update(type=tp, choices=meta.get("choices"))
    p.add_argument(flag, **kwargs)


def _add_command(sub, name: str, command: Command) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=command.help, description=command.help)
    configs = configs_of(command)
    required = _required(configs)
    p.add_argument("--config", default=None,
                   help="YAML file of this command's options (flat, or grouped in sections: "
                        f"{', '.join(c.SECTION for c in configs)}); flags given here override it")
    for f in _fields(configs).values():
        _add_field(p, f, f.name in required)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description="MetaCLIP curation of image/alt-text pools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if isinstance(command, dict):
            own = command.get("")  # a group that is a command itself (`curate quality`) besides its tools
            if own is None:
                group = sub.add_parser(name, help=f"{name} tools", description=f"{name} tools")
            else:
                group = _add_command(sub, name, own)
            gsub = group.add_subparsers(dest="subcommand", required=own is None, metavar="SUBCOMMAND")
            for sub_name, sub_command in command.items():
                if sub_name:
                    _add_command(gsub, sub_name, sub_command)
        else:
            _add_command(sub, name, command)
    return parser


def load_yaml_config(path: str, configs: tuple) -> dict:
    """Flatten a run YAML: top-level keys are option names (``-`` or ``_``); the configs'
    sections (``spark``, ``storage``, ``match``, ...) may group them."""
    import yaml

    from curation.io import read_bytes

    try:
        raw = yaml.safe_load(read_bytes(path)) or {}
    except yaml.YAMLError as exc:  # syntax errors, and tags like !!python that safe_load refuses
        raise CurationError(f"{path}: not a plain YAML file of option values ({exc})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise CurationError(f"{path}: a run config is a YAML mapping of option names to values")
    sections = {c.SECTION for c in configs}
    flat: dict = {}
    for key, value in raw.items():
        if key in sections and isinstance(value, dict):
            flat.update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            flat[key.replace("-", "_")] = value
    unknown = sorted(set(flat) - set(_fields(configs)))
    if unknown:
        raise CurationError(f"{path}: unknown options {', '.join(unknown)}")
    return flat


def resolve(command_name: str, command: Command, args: argparse.Namespace) -> dict:
    """The command's typed configs, by section: defaults, then YAML, then the flags."""
    from jobs.common import absolute

    configs = configs_of(command)
    fields = _fields(configs)
    given = {k: v for k, v in vars(args).items() if k in fields}
    for name, value in list(given.items()):
        if _base_type(fields[name].type) is dict and isinstance(value, list):
            given[name] = dict(value)
    values = {**(load_yaml_config(args.config, configs) if args.config else {}), **given}
    required = _required(configs)
    missing = [k for k in fields if k in required and values.get(k) in (None, "")]
    if missing:
        raise CurationError(f"curate {command_name}: missing {', '.join('--' + m.replace('_', '-') for m in missing)}"
                            " (on the command line or in --config)")
    out = {}
    for cls in configs:
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            if _base_type(f.type) is dict:
                value = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (value or {}).items()}
            elif f.metadata.get("path") and isinstance(value, str):
                value = absolute(value)
            elif value is not None and _base_type(f.type) in (int, float) and not isinstance(value, bool):
                try:
                    value = _base_type(f.type)(value)
                except (TypeError, ValueError):
                    raise CurationError(f"--{f.name.replace('_', '-')} {value!r}: expected "
                                        f"{_base_type(f.type).__name__}") from None
            kwargs[f.name] = value
        out[cls.SECTION] = cls(**kwargs)
    return out


def _command(args) -> tuple[str, Command]:
    command = COMMANDS[args.command]
    if isinstance(command, dict):
        sub = getattr(args, "subcommand", None)
        return (f"{args.command} {sub}", command[sub]) if sub else (args.command, command[""])
    return args.command, command


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curate`` console command."""
    args = build_parser().parse_args(argv)
    # Logs and progress go to stderr; stdout carries only the command's result (summary, JSON).
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    name, command = _command(args)
    try:
        configs = resolve(name, command, args)
        module, function = command.run.split(":")
        return getattr(importlib.import_module(module), function)(configs)
    except CurationError as exc:
        log.error("%s", exc)
        return 2


def status_command(cfg: dict) -> int:
    import json

    from curation.io import using_storage
    from curation.status import run_status

    with using_storage(cfg["storage"].options()):
        status = run_status(cfg["run"].out, cfg["run"].verify)
    sys.stdout.write(json.dumps(status, indent=2) + "\n")
    damaged = sum(s.get("damaged_count", 0) for s in status.values() if isinstance(s, dict))
    return 1 if damaged else 0


def report_command(cfg: dict) -> int:
    from curation.report import write_report

    sys.stdout.write(f"report         {write_report(cfg['run'].out)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

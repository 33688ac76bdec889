"""The ``curate`` command: one subcommand per stage, ``--help`` on each.

Commands are a table: each names its typed configs (``curation.core.config``) and the function
that runs it, ``fn(configs, executor)``; every registered stage that runs on its own gets a
command too (``curation.registry``). Flags, help texts, defaults and YAML sections are
generated from the configs' fields, so each default is stated once. Values come from the
defaults, then the ``--config`` YAML file (top-level keys, then each config's own section),
then the flags given on the command line. The executor (``--executor local|spark``) is built
here and handed to the command.
"""

import argparse
import dataclasses
import functools
import importlib
import logging
import os
import sys
import types
from dataclasses import dataclass

from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
from curation.core import config as C
from curation.core.errors import CurationError, os_error_message
from curation.core.executor import TaskFailed
from curation.export.config import ExportConfig
from curation.export.policy import FetchOptions
from curation.gpu.config import (
    CaptionConfig,
    CaptionsImportConfig,
    DedupConfig,
    EmbedConfig,
    EvalConfig,
    EvalDatasetConfig,
    ExperimentConfig,
    IndexConfig,
    KnnConfig,
    ModelConfig,
    TrainConfig,
)
from curation.ingest.config import IngestConfig
from curation.quality.config import QualityConfig, QualityFitConfig
from curation.report.config import ServeConfig, SummaryConfig
from metadata.config import (
    MetadataBuildConfig,
    MetadataDiffConfig,
    MetadataImportConfig,
    MetadataStatsConfig,
    MetadataWikiConfig,
    NgramsConfig,
)

log = logging.getLogger("curate")
S = argparse.SUPPRESS
STORAGE = (C.StorageConfig,)
EXEC = (C.ExecutorConfig, C.SparkConfig, C.StorageConfig)  # every stage command: where its tasks run


@dataclass(frozen=True)
class Command:
    help: str
    configs: tuple
    run: str  # "module:function", imported when the command runs (so the CLI loads no Spark)
    stage: str | None = None  # a registered stage run by ``curation.core.runner.stage_command``


def _chain_configs() -> tuple:
    """The configs of the registered filter stages (``curate curate`` and ``curate match``)."""
    from curation.registry import REGISTRY

    return tuple(s.Config for s in REGISTRY.filters() if s.Config is not None)


def _match_configs() -> tuple:
    return (*EXEC, MatchConfig, *_chain_configs())


def _curate_configs() -> tuple:
    return (*EXEC, MatchConfig, CountConfig, BalanceConfig, *_chain_configs())


COMMANDS = {
    "match": Command("match every text against the metadata; write matched/ shards and per-shard counts",
                     _match_configs, "curation.chain.run:match_command"),
    "count": Command("sum per-shard counts into entry_counts.parquet/.json", (*EXEC, CountConfig),
                     "curation.chain.run:count_command"),
    "balance": Command("keep texts with the balancing probability; write curated/ and datacard.json",
                       (*EXEC, BalanceConfig), "curation.chain.run:balance_command"),
    "curate": Command("match, (filter,) count and balance in one run, then the report", _curate_configs,
                      "curation.chain.run:curate_command"),
    "report": Command("write report.html (plots and tables) from a run's data card", (C.OutConfig,),
                      "jobs.cli:report_command"),
    "serve": Command("a read-only web explorer of a run: entries, their texts, try a text, rejects",
                     (ServeConfig,), "curation.report.serve:serve_command"),
    "summary": Command("the public summary of training content (EU AI Act template): md, html and json",
                       (*EXEC, SummaryConfig), "curation.report.summary_render:summary_command"),
    "status": Command("what is done and what is missing in a run folder, stage by stage",
                      (C.StorageConfig, C.StatusConfig), "jobs.cli:status_command"),
    "export": Command("write curated rows as WebDataset tars (+ sizes.json) for training",
                      (*EXEC, ExportConfig, FetchOptions), "curation.export.run:export_command"),
    "ingest": Command("CommonCrawl WARC/WAT files (or url+caption tables) to pool shards",
                      (*EXEC, IngestConfig), "curation.ingest.run:ingest_command"),
    "embed": Command("open_clip image and text embeddings of exported tars (clip-retrieval layout)",
                     (*EXEC, ModelConfig, EmbedConfig), "curation.gpu.run:embed_command"),
    "index": Command("FAISS index over the image (or text) embeddings", (*EXEC, IndexConfig),
                     "curation.gpu.run:index_command"),
    "knn": Command("query an index by text, image file or key", (ModelConfig, KnnConfig),
                   "curation.gpu.run:knn_command"),
    "dedup": Command("semantic near-duplicate removal and CLIP-score filter: a keep list",
                     (*EXEC, DedupConfig), "curation.gpu.run:dedup_command"),
    "eval": {
        "": Command("zero-shot classification and retrieval of a checkpoint on CLIP_benchmark WDS sets",
                    (EvalConfig,), "curation.gpu.evaluate:eval_command"),
        "make-dataset": Command("a labelled image folder as a CLIP_benchmark WDS set",
                                (EvalDatasetConfig,), "curation.gpu.evaluate:make_dataset_command"),
    },
    "experiment": Command("curated against a uniform baseline of the same size: export, train, evaluate, report",
                          (*EXEC, ExperimentConfig), "curation.gpu.experiment:experiment_command"),
    "train": Command("CLIP training on exported shards with open_clip's training code",
                     (ModelConfig, TrainConfig), "curation.gpu.run:train_command"),
    "quality": {
        "": Command("score every pool row's alt-text: the pool's shards with a quality column in [0, 1]",
                    (*EXEC, QualityConfig), "curation.quality.run:quality_command"),
        "fit": Command("fit one language's junk-detector weights on descriptive text against junk",
                       (QualityFitConfig,), "curation.quality.run:fit_command"),
    },
    "caption": Command("write one synthetic caption per curated image with an open_clip CoCa model",
                       (*EXEC, CaptionConfig, FetchOptions), "curation.gpu.caption_run:caption_command"),
    "captions": {
        "import": Command("take captions from another captioner (Parquet/JSONL with key and caption)",
                          (*EXEC, CaptionsImportConfig), "curation.gpu.caption_run:import_command"),
    },
    "metadata": {
        "build": Command("build a list from WordNet, n-gram counts, page views and extra lists",
                         (MetadataBuildConfig,), "jobs.metadata_cli:build_command"),
        "stats": Command("summary numbers of a list (and its manifest)", (MetadataStatsConfig,),
                         "jobs.metadata_cli:stats_command"),
        "diff": Command("added/removed entries and an old -> new id mapping", (MetadataDiffConfig,),
                        "jobs.metadata_cli:diff_command"),
        "import": Command("take an existing MetaCLIP metadata.json as is, with a manifest",
                          (MetadataImportConfig,), "jobs.metadata_cli:import_command"),
        "wiki": Command("per-language lists from Wikipedia dumps (extract, segment, count; Meta CLIP 2's rules)",
                        (*EXEC, MetadataWikiConfig), "metadata.wiki_run:wiki_command"),
        "ngrams": Command("Spark job: unigram/bigram counts of a corpus, page-view sums",
                          (C.SparkConfig, C.StorageConfig, NgramsConfig), "jobs.metadata_cli:ngrams_command"),
    },
}


def commands() -> dict:
    """The built-in commands and one ``curate NAME`` per registered stage that runs on its own."""
    from curation.registry import REGISTRY

    found = dict(COMMANDS)
    for cls in REGISTRY.commands():
        if cls.name not in found:
            doc = (cls.__doc__ or cls.name).strip().splitlines()[0]
            found[cls.name] = Command(doc, (*EXEC, cls.Config), "curation.core.runner:stage_command", cls.name)
    return found


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
                   help="YAML file of this command's options: top-level keys set every section that has "
                        f"them, a section ({', '.join(c.SECTION for c in configs)}) sets its own; flags given "
                        "here override it")
    for f in _fields(configs).values():
        _add_field(p, f, f.name in required)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description="MetaCLIP curation of image/alt-text pools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in commands().items():
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


def load_yaml_config(path: str, configs: tuple) -> tuple[dict, dict]:
    """A run YAML as ``(top-level values, {section: values})``. A key that names a section
    and holds a mapping is that section (its keys set that config only); any other key is
    an option name (``-`` or ``_``) for every config that has it. Unknown keys and values
    of the wrong type are errors naming the file, section and key."""
    import yaml

    from curation.core.io import is_dir, read_bytes

    if is_dir(path):
        raise CurationError(f"--config {path}: a folder, not a YAML file")
    try:
        raw = yaml.safe_load(read_bytes(path)) or {}
    except yaml.YAMLError as exc:  # syntax errors, and tags like !!python that safe_load refuses
        raise CurationError(f"{path}: not a plain YAML file of option values ({exc})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise CurationError(f"{path}: a run config is a YAML mapping of option names to values")
    sections = {c.SECTION: c for c in configs}
    fields = _fields(configs)
    top: dict = {}
    scoped: dict = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if key in sections and isinstance(value, dict):
            own = {f.name: f for f in dataclasses.fields(sections[key])}
            scoped[key] = {}
            for sub_key, sub_value in value.items():
                sub_name = str(sub_key).replace("-", "_")
                if sub_name not in own:
                    raise CurationError(f"{path}: section {key!r}: unknown option {sub_key!r} "
                                        f"(options: {', '.join(sorted(own))})")
                scoped[key][sub_name] = checked(sub_value, own[sub_name], f"{path}: section {key!r}: {sub_key}")
        elif name in fields:
            top[name] = checked(value, fields[name], f"{path}: {key}")
        else:
            raise CurationError(f"{path}: unknown option {key!r} (sections: {', '.join(sections)})")
    return top, scoped


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", list: "a list of strings"}


def checked(value, f, where: str):
    """A YAML value checked against its field's type: booleans, integers, numbers and strings
    are strict (``"false"`` is no boolean, ``1.7`` no integer); ``None`` where the field
    allows it; a list may be written as one string."""
    tp = _base_type(f.type)
    optional = isinstance(f.type, types.UnionType) and type(None) in f.type.__args__
    if value is None and (optional or _default(f) is C.REQUIRED):
        return value
    if tp is list and isinstance(value, str):
        value = [value]
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          dict: lambda v: isinstance(v, dict) and all(isinstance(x, (str, int, float, bool)) for x in v.values()),
          list: lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)}[tp](value)
    if not ok:
        raise CurationError(f"{where}: {value!r} is not {_TYPE_NAMES[tp]}")
    return float(value) if tp is float else value


def _value(f, value):
    """A value as its config takes it: mappings of strings, paths made absolute."""
    from jobs.common import absolute

    if _base_type(f.type) is dict:
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (value or {}).items()}
    if f.metadata.get("path") and isinstance(value, str):
        return absolute(value)
    return value


def resolve(command_name: str, command: Command, args: argparse.Namespace) -> dict:
    """The command's typed configs, by section: defaults, then the YAML's top-level keys,
    then its section of each config, then the flags (which set every config that has them)."""
    configs = configs_of(command)
    fields = _fields(configs)
    given = {k: v for k, v in vars(args).items() if k in fields}
    for name, value in list(given.items()):
        if _base_type(fields[name].type) is dict and isinstance(value, list):
            given[name] = dict(value)
    top, scoped = load_yaml_config(args.config, configs) if args.config else ({}, {})
    if "executor" not in given and "executor" not in top and not scoped.get("executor", {}).get("executor"):
        default = os.environ.get("CURATE_EXECUTOR")
        if default:
            if default not in C.EXECUTORS:
                raise CurationError(f"CURATE_EXECUTOR={default!r}: must be one of {', '.join(C.EXECUTORS)}")
            top["executor"] = default
    out = {}
    for cls in configs:
        values = {**top, **scoped.get(cls.SECTION, {}), **given}
        kwargs = {f.name: _value(f, values[f.name]) for f in dataclasses.fields(cls) if f.name in values}
        missing = [f.name for f in dataclasses.fields(cls) if _default(f) is C.REQUIRED
                   and kwargs.get(f.name) in (None, "")]
        if missing:
            raise CurationError(f"curate {command_name}: missing "
                                f"{', '.join('--' + m.replace('_', '-') for m in missing)} "
                                "(on the command line or in --config)")
        out[cls.SECTION] = cls(**kwargs)
    check_executor(out)
    return out


def check_executor(cfg: dict) -> None:
    """Spark's settings are refused for the local executor, and the local one's for Spark."""
    ex, spark = cfg.get("executor"), cfg.get("spark")
    if ex is None:
        return
    if ex.executor == "local" and spark is not None and (spark.master is not None or spark.conf):
        raise CurationError("--master and --conf are Spark settings: they do not apply to --executor local "
                            "(give --executor spark, or leave them out)")
    if ex.executor == "spark" and ex.workers is not None:
        raise CurationError("--workers sets the local executor's processes: give --executor local, or set "
                            "Spark's parallelism with --master local[N] or --conf")


def make_executor(cfg: dict, app_name: str):
    """The executor a command's configs name (``None`` for a command without one)."""
    ex = cfg.get("executor")
    if ex is None:
        return None
    storage = cfg["storage"].options() if "storage" in cfg else None
    if ex.executor == "local":
        from curation.core.executor import LocalExecutor

        return LocalExecutor(ex.workers, storage)
    from jobs.spark import spark_executor

    return spark_executor(cfg["spark"], app_name, storage)


def _command(args) -> tuple[str, Command]:
    command = commands()[args.command]
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
        return run(name, command, resolve(name, command, args))
    except CurationError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:  # an output that cannot be written (read-only, full, not a folder): named, no traceback
        log.error("%s (nothing is lost: a rerun resumes once it can write)", os_error_message(exc))
        return 2
    except TaskFailed as exc:
        if not isinstance(exc.__cause__, OSError):
            raise
        log.error("%s: %s (nothing is lost: a rerun resumes once it can write)", str(exc).split(";")[0],
                  os_error_message(exc.__cause__))
        return 2


def run(name: str, command: Command, cfg: dict) -> int:
    """Every command, the same way: its storage options in scope, its executor built from its
    configs (and closed after), then its function with both."""
    from curation.core.io import using_storage

    module, function = command.run.split(":")
    fn = getattr(importlib.import_module(module), function)
    if command.stage:
        fn = functools.partial(fn, name=command.stage)
    storage = cfg["storage"].options() if "storage" in cfg else None
    with using_storage(storage):
        executor = make_executor(cfg, f"curate {name}")
        try:
            return fn(cfg, executor)
        finally:
            if executor is not None:
                executor.close()


def status_command(cfg: dict, executor=None) -> int:
    import json

    from curation.report.status import run_status

    status = run_status(cfg["run"].out, cfg["run"].verify)
    sys.stdout.write(json.dumps(status, indent=2) + "\n")
    damaged = sum(s.get("damaged_count", 0) for s in status.values() if isinstance(s, dict))
    return 1 if damaged else 0


def report_command(cfg: dict, executor=None) -> int:
    from curation.report.page import write_report

    sys.stdout.write(f"report         {write_report(cfg['run'].out)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Typed configuration, one dataclass per concern, each stated once: a field's default and
help live here, and the ``curate`` command builds its flags and YAML sections from them
(``jobs.cli``). Runners receive these values, never an argparse namespace.

``opt(default, help, ...)`` declares a field. ``SECTION`` names a class's YAML section.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

from curation.core.errors import InputError
from curation.core.storage import StorageOptions

REQUIRED = dataclasses.MISSING


def opt(default=REQUIRED, help: str = "", *, choices=None, path: bool = False, positional: bool = False,
        flag: str | None = None, lineage: bool = False):
    """A config field: its default (none: required), help text, allowed values, whether it
    is a path (made absolute on the driver: executors run in other folders), whether it is
    a positional argument, its flag name when not ``--field-name``, and whether its value is
    part of the stage's lineage (it keys the done markers: outputs made with another value
    are never mixed in; see ``lineage``)."""
    meta = {"help": help, "choices": choices, "path": path, "positional": positional, "flag": flag,
            "lineage": lineage}
    if isinstance(default, (dict, list)):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


def lineage(*configs) -> dict:
    """The lineage fields of ``configs`` (``opt(..., lineage=True)``) by name: the parameters
    that key a stage's done markers, derived from the configs and never written by hand."""
    return {f.name: getattr(c, f.name) for c in configs for f in dataclasses.fields(c) if f.metadata.get("lineage")}


def require(ok: bool, flag: str, value, rule: str) -> None:
    """Refuse a parameter before any work: ``InputError`` naming the flag, value and rule."""
    if not ok:
        raise InputError(f"--{flag.replace('_', '-')} {value!r}: {rule}")


def finite_positive(value, flag: str) -> None:
    require(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0,
            flag, value, "must be a finite number > 0")


def at_least(value, low: int, flag: str) -> None:
    if value is not None:
        require(isinstance(value, int) and not isinstance(value, bool) and value >= low, flag, value,
                f"must be an integer >= {low}")


def seed_64(value, flag: str) -> None:
    """Seeds are 64-bit: a larger one would silently act as its value mod 2**64."""
    if value is not None:
        require(isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64, flag, value,
                "must be an integer in [0, 2**64)")


EXECUTORS = ("spark", "local")


@dataclass(kw_only=True)
class ExecutorConfig:
    """Where a command's tasks run. ``$CURATE_EXECUTOR`` sets the default."""

    SECTION: ClassVar[str] = "executor"
    executor: str = opt("spark", "where tasks run: spark (local[*] unless --master or spark-submit names a "
                                 "cluster) or local (a process pool on this machine; no JVM)", choices=list(EXECUTORS))
    workers: int | None = opt(None, "--executor local: worker processes (default: the cores this process may use)")

    def __post_init__(self):
        require(self.executor in EXECUTORS, "executor", self.executor, "must be spark or local")
        at_least(self.workers, 1, "workers")


@dataclass(kw_only=True)
class SparkConfig:
    """Where and how Spark runs: ``master=None`` is spark-submit's master, else ``local[*]``."""

    SECTION: ClassVar[str] = "spark"
    master: str | None = opt(None, "Spark master URL (default: spark-submit's --master, else local[*])")
    conf: dict = opt({}, "Spark configuration KEY=VALUE, repeatable (e.g. --conf spark.executor.memory=4g)")

    def __post_init__(self):
        from curation.core.spark_settings import check_conf, check_master

        check_master(self.master)
        check_conf(self.conf)


@dataclass(kw_only=True)
class StorageConfig:
    """S3 options that are not secrets; credentials come from the AWS environment or profile."""

    SECTION: ClassVar[str] = "storage"
    s3_endpoint: str | None = opt(None, "S3-compatible endpoint URL (default: $AWS_ENDPOINT_URL)")
    s3_profile: str | None = opt(None, "AWS profile (default: $AWS_PROFILE)")
    s3_region: str | None = opt(None, "AWS region (default: $AWS_REGION)")

    def options(self) -> StorageOptions:
        return StorageOptions.from_env(self.s3_endpoint, self.s3_profile, self.s3_region)


@dataclass(kw_only=True)
class OutConfig:
    """A command that only reads a run folder."""

    SECTION: ClassVar[str] = "run"
    out: str = opt(help="run folder (or a pool, export or embeddings folder)", path=True)


@dataclass(kw_only=True)
class StatusConfig:
    SECTION: ClassVar[str] = "run"
    out: str = opt(help="run folder (or a pool, export or embeddings folder)", path=True)
    verify: bool = opt(False, "also check every finished shard's outputs against their checksums")

"""Typed run configuration, built at the edge (command line) and passed down as values."""

from dataclasses import dataclass, field

from curation.storage import StorageOptions
from curation.variants import DEFAULT_VARIANT


@dataclass
class SparkOptions:
    """Where and how Spark runs: ``master=None`` is spark-submit's master, else ``local[*]``."""

    master: str | None = None
    conf: dict = field(default_factory=dict)
    storage: StorageOptions = field(default_factory=StorageOptions)


@dataclass
class MatchConfig:
    """Match every text of ``pool`` against ``metadata``; outputs under ``out``."""

    pool: str
    metadata: str
    out: str
    text_column: str = "text"
    variant: str = DEFAULT_VARIANT
    default_lang: str = "en"  # per-language metadata: the list for texts without their own
    overwrite: bool = False


@dataclass
class CountConfig:
    """Sum the per-shard counts of the matched shards under ``out``."""

    out: str
    metadata: str | None = None


@dataclass
class BalanceConfig:
    """Keep matched texts of ``out`` with the balancing probability for threshold ``t``."""

    out: str
    t: float = 20000
    seed: int = 0
    reference_lang: str = "en"  # per-language metadata: the language that gets t itself
    overwrite: bool = False

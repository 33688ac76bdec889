"""Typed configuration, one dataclass per concern, each stated once: a field's default and
help live here, and the ``curate`` command builds its flags and YAML sections from them
(``jobs.cli``). Runners receive these values, never an argparse namespace.

``opt(default, help, ...)`` declares a field. ``SECTION`` names a class's YAML section.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

from curation.errors import InputError
from curation.fetch import DEFAULT_USER_AGENT
from curation.storage import StorageOptions
from curation.variants import DEFAULT_VARIANT, VARIANTS

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
class MatchConfig:
    """Match every text of ``pool`` against ``metadata``; outputs under ``out``."""

    SECTION: ClassVar[str] = "match"
    pool: str = opt(help="folder of pool shards (Parquet or JSONL), local or s3://", path=True)
    metadata: str = opt(help="metadata list (JSON list of strings, or one entry a line), or a folder of "
                             "<lang>.json lists", path=True)
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    variant: str = opt(DEFAULT_VARIANT, "matching variant", choices=sorted(VARIANTS), lineage=True)
    default_lang: str = opt("en", "per-language metadata folder: the list for texts whose lang has none", lineage=True)
    lang_map: str | None = opt(None, "JSON object of lang value -> list name, tried before the built-in routing "
                                     "(zh-Hans, zho, zh_CN -> zh, ...)", path=True)
    min_quality: float | None = opt(None, "drop texts whose quality score is below this before matching and "
                                          "counting (the pool's quality column, else scored here)")
    quality_weights: str | None = opt(None, "quality weights: a <lang>.json file or folder from `curate quality "
                                            "fit` (default: the shipped ones)", path=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        if self.min_quality is not None:
            require(isinstance(self.min_quality, (int, float)) and 0 <= self.min_quality <= 1, "min_quality",
                    self.min_quality, "must be a score in [0, 1]")


@dataclass(kw_only=True)
class CountConfig:
    """Sum the per-shard counts of the matched shards under ``out``."""

    SECTION: ClassVar[str] = "count"
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    metadata: str | None = opt(None, "metadata list (default: the one match used)", path=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")



@dataclass(kw_only=True)
class BalanceConfig:
    """Keep matched texts of ``out`` with the balancing probability for threshold ``t``."""

    SECTION: ClassVar[str] = "balance"
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    t: float = opt(20000.0, "balancing threshold t", lineage=True)
    seed: int = opt(0, "seed of the hash coin", lineage=True)
    reference_lang: str = opt("en", "per-language metadata: the language that gets --t; others match its "
                                    "tail proportion", lineage=True)
    unit: str = opt("image", "image: one alt-text chosen per image, then one decision per image (Meta CLIP 2); "
                             "text: one decision per row (MetaCLIP 1)", choices=["image", "text"], lineage=True)
    image_column: str = opt("key", "the column that identifies an image (--unit image)", lineage=True)
    prefer_quality: bool = opt(False, "--unit image: choose the image's matched alt-text with the highest quality "
                                      "score (ties by the hash choice); needs a quality column", lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        finite_positive(self.t, "t")
        seed_64(self.seed, "seed")
        require(self.unit in ("image", "text"), "unit", self.unit, "must be image or text")


@dataclass(kw_only=True)
class ExportConfig:
    """Curated (or, ``online``, all matched) rows to WebDataset tars."""

    SECTION: ClassVar[str] = "export"
    curated: str = opt(help="run folder (or its curated/ folder), local or s3://", path=True)
    out: str = opt(help="folder for NNNNN.tar, NNNNN.parquet, sizes.json", path=True)
    samples_per_tar: int = opt(10_000, "samples per tar", lineage=True)
    shuffle_seed: int | None = opt(None, "deterministic shuffle before sharding", lineage=True)
    online: bool = opt(False, "export every matched pair + probabilities.npy for online balancing", lineage=True)
    resize: int | None = opt(None, "resize so that one side is this many pixels", lineage=True)
    resize_mode: str = opt("longest", "which side --resize sets", choices=["longest", "shortest"], lineage=True)
    timeout: float = opt(10.0, "hard deadline of one request in seconds: DNS, connect, headers and body")
    retries: int = opt(1, "extra tries of a failed http(s) fetch (429/503 wait for Retry-After)")
    max_bytes: int = opt(20 * 2**20, "largest image accepted, in bytes (enforced while reading)")
    max_pixels: int = opt(40_000_000, "largest image accepted, in pixels (checked before decoding)")
    threads: int = opt(16, "concurrent fetches per task")
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent of every request; add your contact URL, e.g. "
                          "'metaclip-curation/0.1 (+https://example.org/crawler)'")
    per_host_connections: int = opt(2, "requests in flight to one host at once")
    per_host_rate: float = opt(0.0, "request starts per second to one host (0: no limit; a robots.txt "
                                    "Crawl-delay slows it further)")
    robots: bool = opt(True, "honour each host's robots.txt (RFC 9309, our token metaclip-curation)")
    disallowed_header_directives: str = opt("noai,noimageai,noindex,noimageindex",
                                            "X-Robots-Tag directives that opt an image out (comma-separated)")
    allow_local_files: bool = opt(False, "read urls that are local paths or file:// (pools of local images)")
    allow_private_addresses: bool = opt(False, "fetch from loopback, private and link-local addresses")
    max_redirects: int = opt(5, "redirects followed per request")
    max_retry_after: float = opt(60.0, "longest Retry-After waited for, in seconds")
    breaker_failures: int = opt(5, "failures in a row after which a host's remaining samples are skipped")
    tar_deadline: float | None = opt(None, "seconds one tar may take; samples not fetched by then are "
                                           "recorded as 'deadline'")
    retry_failed: bool = opt(False, "re-fetch only the samples whose failure is retryable; rewrite only their tars")
    blur_faces: bool = opt(False, "blur faces (OpenCV's bundled cascade) and record their boxes", lineage=True)
    image_filter: str | None = opt(None, "module:function(image, row) -> reason to drop, or None to keep",
                                   lineage=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    keep_list: str | None = opt(None, "keep list from `curate dedup`: skip the samples it removes", path=True)
    captions: str | None = opt(None, "captions folder from `curate caption` or `curate captions import`: "
                                     "write <key>.syn.txt beside <key>.txt", path=True, lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        at_least(self.samples_per_tar, 1, "samples_per_tar")
        seed_64(self.shuffle_seed, "shuffle_seed")
        at_least(self.resize, 1, "resize")
        finite_positive(self.timeout, "timeout")
        at_least(self.retries, 0, "retries")
        at_least(self.max_bytes, 1, "max_bytes")
        at_least(self.max_pixels, 1, "max_pixels")
        at_least(self.threads, 1, "threads")
        at_least(self.per_host_connections, 1, "per_host_connections")
        require(self.per_host_rate >= 0 and math.isfinite(self.per_host_rate), "per_host_rate", self.per_host_rate,
                "must be a finite number >= 0")
        at_least(self.max_redirects, 0, "max_redirects")
        require(self.max_retry_after >= 0, "max_retry_after", self.max_retry_after, "must be >= 0")
        at_least(self.breaker_failures, 1, "breaker_failures")
        if self.tar_deadline is not None:
            finite_positive(self.tar_deadline, "tar_deadline")

    def options(self, storage=None):
        from curation.export import ExportOptions
        from curation.fetch import FetchOptions
        from curation.images import ResizeOptions

        fetch = FetchOptions(
            timeout_s=self.timeout, retries=self.retries, max_bytes=self.max_bytes, threads=self.threads,
            user_agent=self.user_agent, per_host_connections=self.per_host_connections,
            per_host_rps=self.per_host_rate, robots=self.robots,
            disallowed_header_directives=tuple(d.strip() for d in self.disallowed_header_directives.split(",")),
            allow_local_files=self.allow_local_files, allow_private_addresses=self.allow_private_addresses,
            max_redirects=self.max_redirects, max_retry_after_s=self.max_retry_after,
            breaker_failures=self.breaker_failures, tar_deadline_s=self.tar_deadline, storage=storage)
        return ExportOptions(samples_per_tar=self.samples_per_tar, shuffle_seed=self.shuffle_seed,
                             text_column=self.text_column, fetch=fetch,
                             resize=ResizeOptions(self.resize, self.resize_mode),
                             max_pixels=self.max_pixels, blur_faces=self.blur_faces, image_filter=self.image_filter,
                             retry_failed=self.retry_failed, captions=self.captions)


@dataclass(kw_only=True)
class IngestConfig:
    """WARC/WAT files or url+caption tables to pool shards."""

    SECTION: ClassVar[str] = "ingest"
    input: str = opt(help="comma-separated files, folders or glob patterns")
    out: str = opt(help="pool folder to write (NNNNN.parquet, ingest_stats.json)", path=True)
    shards: int | None = opt(None, "output shards (default: one per input file)")
    max_text_chars: int | None = opt(None, "drop alt-texts longer than this", lineage=True)
    langid: bool = opt(True, "identify each alt-text's language", lineage=True)
    url_column: str = opt("url", "tables: the image URL column", lineage=True)
    caption_column: str = opt("caption", "tables: the caption column", lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        at_least(self.shards, 1, "shards")
        at_least(self.max_text_chars, 1, "max_text_chars")

    def options(self):
        from curation.ingest.extract import IngestOptions

        return IngestOptions(max_text_chars=self.max_text_chars, langid=self.langid, url_column=self.url_column,
                             caption_column=self.caption_column)

    def input_urls(self) -> str:
        import os

        parts = (p.strip() for p in self.input.split(","))
        return ",".join(p if "://" in p else os.path.abspath(p) for p in parts if p)


@dataclass(kw_only=True)
class ModelConfig:
    SECTION: ClassVar[str] = "model"
    model: str = opt("tiny", "open_clip model name, or ours (tiny)", lineage=True)
    pretrained: str | None = opt(None, "local checkpoint file (or an open_clip tag with hub access)", lineage=True)


@dataclass(kw_only=True)
class EmbedConfig:
    """open_clip embeddings of exported tars, one part per tar (clip-retrieval layout)."""

    SECTION: ClassVar[str] = "embed"
    shards: str = opt(help="folder of NNNNN.tar", path=True)
    out: str = opt(help="embeddings folder (img_emb/, text_emb/, metadata/)", path=True)
    batch_size: int = opt(0, "samples per batch; 0: from the device (1024 on GPUs of 40 GiB and more, 512 from "
                             "16 GiB, else 256; 64 on the CPU)")
    decode: str = opt("auto", "image decoding: on the device (nvJPEG on a GPU), or PIL; auto: device on a GPU",
                      choices=["auto", "tensor", "pil"], lineage=True)
    decode_threads: int = opt(0, "threads that read, tokenise and (PIL) decode ahead of the model; 0: CPUs - 1, "
                                 "at most 8")
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        at_least(self.batch_size, 0, "batch_size")
        at_least(self.decode_threads, 0, "decode_threads")


@dataclass(kw_only=True)
class IndexConfig:
    SECTION: ClassVar[str] = "index"
    embeddings: str = opt(help="embeddings folder from `curate embed`", path=True, lineage=True)
    out: str = opt(help="index folder (image.index, keys.parquet, infos.json)", path=True)
    kind: str = opt("img", "which embeddings to index", choices=["img", "text"], lineage=True)
    memory_mb: float = opt(4096.0, "memory budget of the index, in MB")
    exact_up_to: int = opt(100_000, "largest set indexed exactly (flat, in this process)")
    seed: int = opt(0, "seed of the training sample", lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        finite_positive(self.memory_mb, "memory_mb")
        at_least(self.exact_up_to, 0, "exact_up_to")
        seed_64(self.seed, "seed")


@dataclass(kw_only=True)
class KnnConfig:
    SECTION: ClassVar[str] = "knn"
    index: str = opt(help="index folder from `curate index`", path=True)
    embeddings: str | None = opt(None, "embeddings folder (for --key)", path=True)
    text: str | None = opt(None, "query by this text")
    image: str | None = opt(None, "query by this image file", path=True)
    key: str | None = opt(None, "query by the stored vector of this key")
    k: int = opt(10, "neighbours to print", flag="-k")

    def __post_init__(self):
        at_least(self.k, 1, "k")
        given = [n for n in ("text", "image", "key") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InputError("curate knn: give exactly one of --text, --image, --key")
        if self.key is not None and not self.embeddings:
            raise InputError("--key needs --embeddings")


@dataclass(kw_only=True)
class DedupConfig:
    SECTION: ClassVar[str] = "dedup"
    embeddings: str = opt(help="embeddings folder from `curate embed`", path=True, lineage=True)
    out: str = opt(help="keep list: a folder of Parquet parts (key, keep, reason, duplicate_of)", path=True)
    threshold: float = opt(0.95, "cosine similarity of duplicates", lineage=True)
    cluster_size: int = opt(1000, "mean samples per k-means cluster", lineage=True)
    seed: int = opt(0, "seed of the k-means sample and initialisation", lineage=True)
    group_size: int = opt(200_000, "vectors per task of the within-cluster step (its memory)")
    min_clip_score: float | None = opt(None, "also drop samples whose image-text similarity is below this",
                                       lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        require(isinstance(self.threshold, (int, float)) and 0 < self.threshold <= 1, "threshold", self.threshold,
                "must be a cosine similarity in (0, 1]")
        at_least(self.cluster_size, 1, "cluster_size")
        at_least(self.group_size, 1, "group_size")
        seed_64(self.seed, "seed")


@dataclass(kw_only=True)
class TrainConfig:
    SECTION: ClassVar[str] = "train"
    shards: str = opt(help="folder of exported tars with sizes.json", path=True)
    out: str = opt(help="logs and checkpoints; a rerun resumes from the latest", path=True)
    epochs: int = opt(1, "epochs")
    batch_size: int = opt(64, "samples per batch")
    lr: float = opt(5e-4, "learning rate")
    warmup: int = opt(0, "warmup steps")
    workers: int = opt(0, "data loader workers")
    syn_ratio: float = opt(0.0, "share of samples that train on their synthetic caption (<key>.syn.txt) instead "
                                "of the alt-text, re-drawn every epoch with the hash coin (seed, key, epoch)")
    seed: int = opt(0, "seed of training and of the caption coin")
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        require(isinstance(self.syn_ratio, (int, float)) and 0 <= self.syn_ratio <= 1, "syn_ratio", self.syn_ratio,
                "must be in [0, 1]")
        seed_64(self.seed, "seed")
        at_least(self.epochs, 1, "epochs")
        at_least(self.batch_size, 1, "batch_size")
        finite_positive(self.lr, "lr")
        at_least(self.warmup, 0, "warmup")
        at_least(self.workers, 0, "workers")


@dataclass(kw_only=True)
class QualityConfig:
    """Score every pool row's alt-text (``curation.quality``)."""

    SECTION: ClassVar[str] = "quality"
    pool: str = opt(help="folder of pool shards (Parquet or JSONL), local or s3://", path=True)
    out: str = opt(help="folder for the scored pool shards (same names, Parquet, + a quality column)", path=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    quality_weights: str | None = opt(None, "quality weights: a <lang>.json file or folder from `curate quality "
                                            "fit` (default: the shipped ones)", path=True)
    overwrite: bool = opt(False, "discard earlier outputs")


@dataclass(kw_only=True)
class QualityFitConfig:
    """Fit one language's filter weights against a reference language model."""

    SECTION: ClassVar[str] = "fit"
    reference: str = opt(help="good text of the language, comma-separated files or folders: .txt (a text a "
                              "line), .po catalogs, WordNet data.* files, pool shards")
    lang: str = opt(help="language of the weights (ISO 639-1, e.g. en)")
    out: str = opt(help="weights file to write (<lang>.json); manifest.json beside it records its provenance")
    texts: str | None = opt(None, "alt-texts to weigh the filters on (pool shards, .txt): rows of --lang, "
                                  "with the reference's held-out half")
    texts_all_langs: bool = opt(False, "take every row of the --texts pools, whatever its lang (file names, camera "
                                       "codes and web boilerplate are mostly language-neutral)")
    order: int = opt(4, "character n-gram order of the reference model")

    def __post_init__(self):
        at_least(self.order, 1, "order")


@dataclass(kw_only=True)
class CaptionConfig:
    """Synthetic captions of the curated images with an open_clip CoCa model."""

    SECTION: ClassVar[str] = "caption"
    curated: str = opt(help="run folder (or its curated/ folder)", path=True)
    out: str = opt(help="captions folder: <shard>.parquet (key, text, caption, status) per curated shard",
                   path=True)
    model: str = opt("coca-tiny", "open_clip CoCa model name (coca_ViT-B-32, ...), or ours (coca-tiny)", lineage=True)
    pretrained: str | None = opt(None, "local checkpoint file (or an open_clip tag with hub access); none: random "
                                       "weights drawn from --seed", lineage=True)
    prompt: bool = opt(False, "start each caption from its alt-text (re-alignment, as Altogether); greedy decoding",
                       lineage=True)
    max_tokens: int = opt(30, "longest caption, in tokens", lineage=True)
    batch_size: int = opt(32, "images per batch")
    seed: int = opt(0, "seed of the random weights when there is no --pretrained", lineage=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    allow_local_files: bool = opt(False, "read urls that are local paths or file:// (rows without image bytes)")
    timeout: float = opt(10.0, "hard deadline of one image request in seconds (rows without image bytes)")
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent of image requests (rows without image bytes)")
    overwrite: bool = opt(False, "discard earlier captions in --out")

    def __post_init__(self):
        at_least(self.max_tokens, 7, "max_tokens")
        at_least(self.batch_size, 1, "batch_size")
        seed_64(self.seed, "seed")
        finite_positive(self.timeout, "timeout")


@dataclass(kw_only=True)
class CaptionsImportConfig:
    """Captions from another captioner, laid out as `curate caption` writes them."""

    SECTION: ClassVar[str] = "import"
    input: str = opt(help="Parquet or JSONL file, or a folder of them, with key and caption columns",
                     flag="--in", path=True, lineage=True)
    curated: str = opt(help="run folder (or its curated/ folder) whose rows the captions describe", path=True)
    out: str = opt(help="captions folder to write", path=True)
    key_column: str = opt("key", "the input's key column")
    caption_column: str = opt("caption", "the input's caption column")
    overwrite: bool = opt(False, "discard earlier captions in --out")


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


@dataclass(kw_only=True)
class MetadataBuildConfig:
    SECTION: ClassVar[str] = "build"
    wordnet: str | None = opt(None, "folder of WordNet 3.0 data.* files (e.g. /usr/share/wordnet)")
    wordnet_lemmas: str = opt("head", "head: synset names as MetaCLIP takes them; all: every lemma",
                              choices=["head", "all"])
    unigrams: str | None = opt(None, "TSV ngram<TAB>count (file or folder of parts)")
    bigrams: str | None = opt(None, "TSV 'a b'<TAB>count; PMI needs --unigrams too")
    titles: str | None = opt(None, "Wikimedia page-view dump lines 'project title views bytes', or TSV")
    title_project: str = opt("en", "page-view project to count")
    extra: list = opt([], "extra entries (one a line, or JSON); repeatable")
    numbers: bool = opt(True, "include the numbers 0..99")
    budget: int = opt(500_000, "maximum entries")
    min_unigram_count: int = opt(100, "smallest unigram count kept")
    min_bigram_pmi: float = opt(30.0, "smallest bigram PMI kept, in bits")
    min_title_views: int = opt(70, "smallest title page views kept")
    lang: str = opt("en", "language of the list (no-space languages join bigrams)")
    out: str = opt(help="output FILE.json (FILE.manifest.json is written beside it)")


@dataclass(kw_only=True)
class MetadataStatsConfig:
    SECTION: ClassVar[str] = "stats"
    file: str = opt(help="metadata list (JSON list or one entry a line)", positional=True)


@dataclass(kw_only=True)
class MetadataDiffConfig:
    SECTION: ClassVar[str] = "diff"
    old: str = opt(help="the older list", positional=True)
    new: str = opt(help="the newer list", positional=True)
    mapping: str | None = opt(None, "write old_id,new_id (-1: removed) as Parquet here")
    show: int = opt(10, "how many added/removed entries to print")


@dataclass(kw_only=True)
class MetadataImportConfig:
    SECTION: ClassVar[str] = "import"
    file: str = opt(help="MetaCLIP metadata.json (a JSON list of strings)", positional=True)
    out: str = opt(help="where to write the list (its manifest goes beside it)")


@dataclass(kw_only=True)
class NgramsConfig:
    SECTION: ClassVar[str] = "ngrams"
    corpus: str | None = opt(None, "folder of .txt/.jsonl/.parquet text shards", path=True)
    text_column: str = opt("text", "column holding the text")
    pageviews: str | None = opt(None, "folder of Wikimedia page-view dump files", path=True)
    project: str = opt("en", "page-view project to count")
    out: str = opt(help="folder for unigrams/, bigrams/, titles/", path=True)
    partitions: int | None = opt(None, "output parts per kind (default: Spark's parallelism)")

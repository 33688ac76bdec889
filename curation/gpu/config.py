"""The options of the GPU commands (``curate embed|index|knn|dedup|train|caption|captions import``)."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import at_least, finite_positive, opt, require, seed_64
from curation.core.errors import InputError


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
    run: str | None = opt(None, "the curated run the embeddings come from (its entry_counts.parquet and data "
                                "card): keep by what each copy matched, and write the dedup block into its data card",
                          path=True, lineage=True)
    keep: str | None = opt(None, "which member of a near-duplicate group stays: rarest (its rarest matched entry "
                                 "has the fewest matches in the run; needs --run), centroid (the farthest from its "
                                 "cluster's centre, SemDeDup's rule), first (input order); default: rarest with "
                                 "--run, else first", choices=["rarest", "centroid", "first"], lineage=True)
    compare: bool = opt(False, "with --run: the data card's dedup block for every policy (the keep list is --keep's)",
                        lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        require(isinstance(self.threshold, (int, float)) and 0 < self.threshold <= 1, "threshold", self.threshold,
                "must be a cosine similarity in (0, 1]")
        require(self.keep != "rarest" or self.run is not None, "keep", self.keep,
                "needs --run RUN (the run's entry counts say which entries are rare)")
        require(not self.compare or self.run is not None, "compare", self.compare, "needs --run RUN")

    @property
    def policy(self) -> str:
        """The keep policy in force: ``--keep``, else rarest with ``--run`` and first without."""
        return self.keep or ("rarest" if self.run else "first")
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
    overwrite: bool = opt(False, "discard earlier captions in --out")

    def __post_init__(self):
        at_least(self.max_tokens, 7, "max_tokens")
        at_least(self.batch_size, 1, "batch_size")
        seed_64(self.seed, "seed")


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
class EvalConfig:
    """Zero-shot classification and retrieval of a checkpoint on CLIP_benchmark WDS sets."""

    SECTION: ClassVar[str] = "eval"
    model: str = opt("ViT-B-32", "open_clip model name, or ours (tiny)")
    checkpoint: str | None = opt(None, "checkpoint file (from `curate train`, or open_clip's); none: the random "
                                       "weights of seed 0", path=True)
    datasets: list = opt([], "a CLIP_benchmark WebDataset folder (classnames.txt, templates, test/*.tar); "
                             "repeatable")
    out: str = opt(help="results file (JSON)", path=True)
    run: str | None = opt(None, "a run folder whose data card gets the results (and its report)", path=True)
    device: str | None = opt(None, "torch device (default: cuda when there is one, else cpu)")
    batch_size: int = opt(64, "images per batch")

    def __post_init__(self):
        require(bool(self.datasets), "datasets", self.datasets, "give at least one data set folder")
        at_least(self.batch_size, 1, "batch_size")


@dataclass(kw_only=True)
class EvalDatasetConfig:
    """A labelled image folder (one subfolder per class), or an exported set with a label
    column, as a CLIP_benchmark WDS set."""

    SECTION: ClassVar[str] = "make_dataset"
    images: str | None = opt(None, "folder of class folders of images (ImageFolder layout)", path=True)
    export: str | None = opt(None, "an export's tars (`curate export`), labelled by --label-column", path=True)
    curated: str | None = opt(None, "with --export: the run (or curated/ folder) whose rows hold the labels",
                              path=True)
    label_column: str = opt("label", "with --export: the curated rows' column holding each sample's class")
    out: str = opt(help="the data set folder to write", path=True)
    templates: list = opt([], "a zero-shot template with {c} (repeatable; default: three photo templates)")


@dataclass(kw_only=True)
class ExperimentConfig:
    """Curated against a uniform baseline of the same size: export, train, evaluate."""

    SECTION: ClassVar[str] = "experiment"
    pool: str = opt(help="pool shards with images (an image column, or urls the export can fetch)", path=True)
    metadata: str = opt(help="metadata list (or folder of lists)", path=True)
    t: float = opt(help="balancing threshold of the curated arm")
    t2: float | None = opt(None, "a second threshold: one more curated arm")
    steps: int = opt(100, "training steps of every arm (the same budget: steps x batch size samples)")
    batch_size: int = opt(64, "samples per step")
    eval: list = opt([], "a CLIP_benchmark WebDataset folder to evaluate on; repeatable")
    out: str = opt(help="experiment folder: each arm's run, tars, training and results, and report.html",
                   path=True)
    model: str = opt("tiny", "open_clip model to train (every arm the same)")
    seed: int = opt(0, "seed of balancing, the baseline draw and training")
    lr: float = opt(5e-4, "learning rate")
    allow_local_files: bool = opt(False, "the pool's urls are local image files")

    def __post_init__(self):
        require(bool(self.eval), "eval", self.eval, "give at least one data set folder")
        finite_positive(self.t, "t")
        if self.t2 is not None:
            finite_positive(self.t2, "t2")
        at_least(self.steps, 1, "steps")
        at_least(self.batch_size, 1, "batch_size")
        seed_64(self.seed, "seed")

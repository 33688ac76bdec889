"""The options of ``curate export`` (the fetcher's are ``curation.export.policy.FetchOptions``)."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import at_least, opt, seed_64
from curation.export.images import DEFAULT_MAX_PIXELS


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
    max_pixels: int = opt(DEFAULT_MAX_PIXELS, "largest image accepted, in pixels (checked before decoding)")
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
        at_least(self.max_pixels, 1, "max_pixels")

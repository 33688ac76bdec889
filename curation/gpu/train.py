"""CLIP training on exported shards with open_clip's own training code (``open_clip_train``):
``sizes.json`` read for the sample count, resampled shards, checkpoints every epoch and
``--resume latest``; our model configs (``tiny``) are registered first."""

import logging
import os
from contextlib import contextmanager

from curation.core.errors import InputError
from curation.core.io import exists, join, list_files, list_names, read_json, write_json_atomic


def open_clip_args(shards: str, out: str, *, model: str = "tiny", pretrained: str | None = None, epochs: int = 1,
                   batch_size: int = 64, lr: float = 5e-4, warmup: int = 0, workers: int = 0, seed: int = 0,
                   name: str = "run", num_samples: int | None = None,
                   precision: str | None = None, extra: tuple = ()) -> list[str]:
    """The ``open_clip_train.main`` arguments for a run over the tars in ``shards``; an epoch
    is ``num_samples`` samples (default: the tars' count), drawn with resampling."""
    tars = list_files(shards, (".tar",))
    if not tars or not exists(join(shards, "sizes.json")):
        raise InputError(f"{shards}: no tars with sizes.json (run `curate export` first)")
    sizes = read_json(join(shards, "sizes.json"))
    import torch

    precision = precision or ("amp_bf16" if torch.cuda.is_available() else "fp32")
    args = ["--train-data", "::".join(tars), "--dataset-type", "webdataset", "--dataset-resampled",
            "--train-num-samples", str(num_samples or sum(sizes.values())), "--model", model,
            "--batch-size", str(batch_size),
            "--epochs", str(epochs), "--lr", str(lr), "--warmup", str(warmup), "--workers", str(workers),
            "--seed", str(seed),
            "--logs", out, "--name", name, "--save-frequency", "1", "--save-most-recent", "--precision", precision,
            "--log-every-n-steps", "1", "--report-to", ""]
    if exists(join(out, name, "checkpoints")):
        args += ["--resume", "latest"]
    if pretrained:
        args += ["--pretrained", pretrained]
    return args + list(extra)


def train(shards: str, out: str, syn_ratio: float = 0.0, **kwargs) -> dict:
    """Train; returns the run folder and its checkpoints. With ``syn_ratio``, samples train
    on their synthetic caption (``<key>.syn.txt``) with that probability, re-drawn per epoch
    (``curation.export.online.CaptionMixer`` placed in open_clip's loader)."""
    from open_clip_train.main import main as open_clip_main

    from curation.gpu.models import register_configs

    register_configs()
    if "://" in out and not out.startswith("file://"):
        # open_clip_train writes its logs and checkpoints with plain file IO.
        raise InputError(f"--out {out}: training writes to a local (or mounted) folder, not an object store")
    args = open_clip_args(shards, out, **kwargs)
    os.makedirs(out, exist_ok=True)
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in [*logging.root.manager.loggerDict, ""]}
    try:
        with _caption_mix(syn_ratio, kwargs.get("seed", 0)) as mixer:
            open_clip_main(args)
    finally:
        # open_clip_train adds root handlers and sets every logger to its level (which makes
        # torch print compiler metrics at exit): give the caller its logging back.
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for name in [*logging.root.manager.loggerDict, ""]:
            logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))
    run = join(out, kwargs.get("name", "run"))
    checkpoints = [f"{name}.pt" for name in list_names(join(run, "checkpoints"), ".pt")]
    summary = {"run": run, "checkpoints": checkpoints, "args": args, "syn_ratio": syn_ratio}
    if mixer is not None and not kwargs.get("workers"):
        # Loader workers count in their own processes; in this one, the texts it trained on.
        summary["texts_used"] = dict(mixer.used)
    write_json_atomic(join(out, "train_summary.json"), summary)
    return summary


@contextmanager
def _caption_mix(syn_ratio: float, seed: int):
    """Put a ``CaptionMixer`` in open_clip's webdataset pipeline for the length of a run.

    open_clip_train builds its training pipeline in ``get_wds_dataset`` and filters samples
    with its module-level ``filter_no_caption_or_no_image`` before decoding; the mixer runs
    inside that filter (choosing ``txt`` in place), and reads the epoch from the dataset's
    ``SharedEpoch``, which ``get_wds_dataset`` returns and the trainer advances."""
    if not syn_ratio:
        yield None
        return
    from open_clip_train import data

    from curation.export.online import CaptionMixer

    mixer = CaptionMixer(syn_ratio, seed)
    original_filter, original_get = data.filter_no_caption_or_no_image, data.get_wds_dataset

    def mixing_filter(sample):
        return original_filter(mixer.apply(sample))

    def get_wds_dataset(args, preprocess_img, is_train, *rest, **kwargs):
        info = original_get(args, preprocess_img, is_train, *rest, **kwargs)
        if is_train:
            mixer.set_epoch(info.shared_epoch)
        return info

    data.filter_no_caption_or_no_image, data.get_wds_dataset = mixing_filter, get_wds_dataset
    try:
        yield mixer
    finally:
        data.filter_no_caption_or_no_image, data.get_wds_dataset = original_filter, original_get

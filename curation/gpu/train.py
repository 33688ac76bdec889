"""CLIP training on exported shards with open_clip's own training code (``open_clip_train``):
``sizes.json`` read for the sample count, resampled shards, checkpoints every epoch and
``--resume latest``; our model configs (``tiny``) are registered first."""

import logging
import os

from curation.errors import InputError
from curation.io import exists, join, list_files, list_names, read_json, write_json_atomic


def open_clip_args(shards: str, out: str, *, model: str = "tiny", pretrained: str | None = None, epochs: int = 1,
                   batch_size: int = 64, lr: float = 5e-4, warmup: int = 0, workers: int = 0, seed: int = 0,
                   name: str = "run",
                   precision: str | None = None, extra: tuple = ()) -> list[str]:
    """The ``open_clip_train.main`` arguments for a run over the tars in ``shards``."""
    tars = list_files(shards, (".tar",))
    if not tars or not exists(join(shards, "sizes.json")):
        raise InputError(f"{shards}: no tars with sizes.json (run `curate export` first)")
    sizes = read_json(join(shards, "sizes.json"))
    import torch

    precision = precision or ("amp_bf16" if torch.cuda.is_available() else "fp32")
    args = ["--train-data", "::".join(tars), "--dataset-type", "webdataset", "--dataset-resampled",
            "--train-num-samples", str(sum(sizes.values())), "--model", model, "--batch-size", str(batch_size),
            "--epochs", str(epochs), "--lr", str(lr), "--warmup", str(warmup), "--workers", str(workers),
            "--seed", str(seed),
            "--logs", out, "--name", name, "--save-frequency", "1", "--save-most-recent", "--precision", precision,
            "--log-every-n-steps", "1", "--report-to", ""]
    if exists(join(out, name, "checkpoints")):
        args += ["--resume", "latest"]
    if pretrained:
        args += ["--pretrained", pretrained]
    return args + list(extra)


def train(shards: str, out: str, **kwargs) -> dict:
    """Train; returns the run folder and its checkpoints."""
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
    summary = {"run": run, "checkpoints": checkpoints, "args": args}
    write_json_atomic(join(out, "train_summary.json"), summary)
    return summary

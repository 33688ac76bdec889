"""Image decoding on the device: JPEGs decoded in batches by nvJPEG
(``torchvision.io.decode_jpeg(device="cuda")``), then resized, cropped and normalised as
tensors the way open_clip's eval transform does (shortest side to size, bicubic with
antialias, centre crop, mean/std), so the CPU does not hold the GPU back. On a CPU the same
tensor path runs with ``decode_image``."""

import torch
import torchvision
from torchvision.transforms.v2 import functional as F


def preprocess_config(model) -> dict:
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = cfg.get("size", model.visual.image_size)
    return {"size": size[0] if isinstance(size, (tuple, list)) else size,
            "mean": cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
            "std": cfg.get("std", (0.26862954, 0.26130258, 0.27577711))}


def decode_batch(blobs: list[bytes], device: str) -> list:
    """Decoded uint8 CHW RGB tensors on ``device``; ``None`` where a blob does not decode."""
    raw = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    out: list = [None] * len(raw)
    jpeg = [i for i, b in enumerate(blobs) if b[:3] == b"\xff\xd8\xff"] if device.startswith("cuda") else []
    if jpeg:
        try:
            for i, image in zip(jpeg, torchvision.io.decode_jpeg([raw[i] for i in jpeg], device=device,
                                                                 mode=torchvision.io.ImageReadMode.RGB)):
                out[i] = image
        except RuntimeError:  # one bad JPEG fails the batch: decode those one by one below
            jpeg = []
    for i in range(len(raw)):
        if out[i] is None:
            try:
                out[i] = torchvision.io.decode_image(raw[i], mode=torchvision.io.ImageReadMode.RGB).to(device)
            except RuntimeError:
                out[i] = None
    return out


def to_model_input(images: list, cfg: dict, device: str) -> torch.Tensor:
    """Resize (shortest side), centre-crop and normalise decoded images into one batch."""
    size = cfg["size"]
    batch = [F.center_crop(F.resize(im, size, interpolation=F.InterpolationMode.BICUBIC, antialias=True),
                           [size, size]) for im in images]
    x = torch.stack(batch).float().div_(255.0)
    mean = torch.tensor(cfg["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], device=device).view(1, 3, 1, 1)
    return (x - mean) / std

"""Embed one tar: image and text embeddings in clip-retrieval's layout.

    img_emb/img_emb_{i}.npy, text_emb/text_emb_{i}.npy  (float16, L2-normalised)
    metadata/metadata_{i}.parquet                      (key, url, text, similarity)

Row ``j`` of the three files is the same sample. Samples whose image does not decode are
listed in the metadata with ``similarity`` null and zero embeddings, never dropped silently.
"""

import io

import numpy as np
import pyarrow as pa

from curation.gpu.tars import iter_samples
from curation.io import join, list_files, npy_bytes
from curation.layout import shard_name
from curation.shards import Shard, ShardOutput, ShardStage


def part_urls(out: str, i: int) -> dict:
    return {"img": join(out, "img_emb", f"img_emb_{i}.npy"), "text": join(out, "text_emb", f"text_emb_{i}.npy"),
            "meta": join(out, "metadata", f"metadata_{i}.parquet")}


class EmbedStage(ShardStage):
    """One part per tar (``NNNNN.tar`` -> part ``i``); the model is loaded once per worker
    process (``worker_model``), not per tar. ``params``: model, pretrained, decode; the
    batch size is not a parameter (it does not change the vectors beyond rounding)."""

    name = "embed"
    rows_key = "samples"

    def __init__(self, out_dir: str, params: dict, shards_dir: str, batch_size: int = 256):
        super().__init__(out_dir, params)
        self.shards_dir, self.batch_size = shards_dir, batch_size

    def plan(self) -> list[Shard]:
        return [Shard(shard_name(i), url, i) for i, url in enumerate(list_files(self.shards_dir, (".tar",)))]

    def process(self, shard: Shard) -> ShardOutput:
        from curation.gpu.models import worker_model

        bundle = worker_model(self.params["model"], self.params["pretrained"])
        files, stats = embed_tar(shard.source, shard.index, self.out_dir, bundle, self.batch_size,
                                 self.params["decode"])
        return ShardOutput(files, {"part": shard.index, "tar": shard.source, **stats})


def embed_tar(tar_url: str, index: int, out: str, bundle, batch_size: int = 256, decode: str = "auto"):
    """The files of part ``index`` (embeddings of every sample of ``tar_url``) and its stats.

    ``decode``: ``tensor`` decodes on the device (nvJPEG on a GPU), ``pil`` with PIL on the
    CPU through open_clip's transform; ``auto`` is ``tensor`` on a GPU, ``pil`` otherwise."""
    on_device = decode == "tensor" or (decode == "auto" and bundle.device.startswith("cuda"))
    urls = part_urls(out, index)
    img_parts, text_parts, meta = [], [], {"key": [], "url": [], "text": [], "decoded": []}
    batch: list[dict] = []
    for sample in iter_samples(tar_url):
        batch.append(sample)
        if len(batch) == batch_size:
            _embed_batch(batch, bundle, img_parts, text_parts, meta, on_device)
            batch = []
    if batch:
        _embed_batch(batch, bundle, img_parts, text_parts, meta, on_device)
    dim = text_parts[0].shape[1] if text_parts else _dim(bundle)
    img = np.concatenate(img_parts) if img_parts else np.zeros((0, dim), np.float16)
    txt = np.concatenate(text_parts) if text_parts else np.zeros((0, dim), np.float16)
    similarity = (img.astype(np.float32) * txt.astype(np.float32)).sum(axis=1)
    decoded = np.array(meta["decoded"], dtype=bool)
    files = {urls["img"]: npy_bytes(img), urls["text"]: npy_bytes(txt), urls["meta"]: pa.table({
        "key": meta["key"], "url": meta["url"], "text": meta["text"],
        "similarity": pa.array(np.where(decoded, similarity, np.nan), pa.float32(), mask=~decoded)})}
    return files, {"samples": len(meta["key"]), "undecodable": int((~decoded).sum())}


def _dim(bundle) -> int:
    import torch

    with torch.no_grad():
        return int(bundle.model.encode_text(bundle.tokenizer(["x"]).to(bundle.device)).shape[1])


def _pil_images(batch: list[dict], bundle) -> tuple[list, list[bool]]:
    from PIL import Image

    images, decoded = [], []
    for sample in batch:
        try:
            with Image.open(io.BytesIO(sample["image"])) as im:
                images.append(bundle.preprocess(im.convert("RGB")))
            decoded.append(True)
        except Exception:  # noqa: BLE001 - any undecodable image is recorded, not fatal
            decoded.append(False)
    return images, decoded


def _device_images(batch: list[dict], bundle) -> tuple[list, list[bool]]:
    from curation.gpu.decode import decode_batch, preprocess_config, to_model_input

    decoded_images = decode_batch([s.get("image", b"") for s in batch], bundle.device)
    ok = [im for im in decoded_images if im is not None]
    images = list(to_model_input(ok, preprocess_config(bundle.model), bundle.device)) if ok else []
    return images, [im is not None for im in decoded_images]


def _embed_batch(batch: list[dict], bundle, img_parts: list, text_parts: list, meta: dict, on_device: bool) -> None:
    import torch

    images, decoded = (_device_images if on_device else _pil_images)(batch, bundle)
    texts = bundle.tokenizer([s.get("txt", "") for s in batch]).to(bundle.device)
    dtype = torch.bfloat16 if bundle.device.startswith("cuda") else None
    with torch.no_grad(), torch.autocast(bundle.device.split(":")[0], dtype=dtype, enabled=dtype is not None):
        txt = torch.nn.functional.normalize(bundle.model.encode_text(texts).float(), dim=-1)
        img = torch.zeros_like(txt)
        if images:
            enc = torch.nn.functional.normalize(bundle.model.encode_image(torch.stack(images).to(bundle.device))
                                                .float(), dim=-1)
            img[torch.tensor(decoded, device=img.device)] = enc
    img_parts.append(img.cpu().numpy().astype(np.float16))
    text_parts.append(txt.cpu().numpy().astype(np.float16))
    for sample, ok in zip(batch, decoded):
        info = sample.get("json", {})
        meta["key"].append(info.get("key", sample["__key__"]))
        meta["url"].append(info.get("url"))
        meta["text"].append(sample.get("txt", ""))
        meta["decoded"].append(ok)

"""Embed one tar: image and text embeddings in clip-retrieval's layout.

    img_emb/img_emb_{i}.npy, text_emb/text_emb_{i}.npy  (float16, L2-normalised)
    metadata/metadata_{i}.parquet                      (key, url, text, similarity, entry_ids, quality)

Row ``j`` of the three files is the same sample. Samples whose image does not decode are
listed in the metadata with ``similarity`` null and zero embeddings, never dropped silently.
``entry_ids`` (the metadata entries the sample's alt-text matched) and ``quality`` (its
alt-text quality score, null when the run had none) come from the tar's ``<key>.json``:
balance-aware dedup (``curate dedup --run``) keeps by them.
"""

import io
import os

import numpy as np
import pyarrow as pa

from curation.core.io import join, list_files, npy_bytes
from curation.core.layout import shard_name
from curation.core.shards import Shard, ShardOutput, ShardStage
from curation.gpu.tars import iter_samples


def part_urls(out: str, i: int) -> dict:
    return {"img": join(out, "img_emb", f"img_emb_{i}.npy"), "text": join(out, "text_emb", f"text_emb_{i}.npy"),
            "meta": join(out, "metadata", f"metadata_{i}.parquet")}


class EmbedStage(ShardStage):
    """One part per tar (``NNNNN.tar`` -> part ``i``); the model is loaded once per worker
    process (``worker_model``), not per tar. ``params``: model, pretrained, decode; the
    batch size is not a parameter (it does not change the vectors beyond rounding)."""

    name = "embed"
    local_workers = 1  # the model owns the device: one process on one machine
    phase = "after-export"
    rows_key = "samples"

    def __init__(self, out_dir: str, params: dict, shards_dir: str, batch_size: int = 0, decode_threads: int = 0):
        super().__init__(out_dir, params)
        self.shards_dir, self.batch_size, self.decode_threads = shards_dir, batch_size, decode_threads

    def plan(self) -> list[Shard]:
        return [Shard(shard_name(i), url, i) for i, url in enumerate(list_files(self.shards_dir, (".tar",)))]

    def process(self, shard: Shard) -> ShardOutput:
        from curation.gpu.models import worker_model

        bundle = worker_model(self.params["model"], self.params["pretrained"])
        files, stats = embed_tar(shard.source, shard.index, self.out_dir, bundle, self.batch_size,
                                 self.params["decode"], self.decode_threads)
        return ShardOutput(files, {"part": shard.index, "tar": shard.source, **stats})


def auto_batch_size(device: str) -> int:
    """Samples per batch for ``device``: larger on GPUs with more memory, small on the CPU."""
    if not device.startswith("cuda"):
        return 64
    import torch

    gib = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30
    return 1024 if gib >= 40 else 512 if gib >= 16 else 256


def auto_decode_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _prepared_batches(tar_url: str, bundle, batch_size: int, on_device: bool, threads: int, depth: int = 2):
    """Batches of ``(samples, images or None, decoded or None, tokens)`` made by a background
    thread while the caller runs the model: the tar is read, texts tokenised and (PIL path)
    images decoded with ``threads`` threads, at most ``depth`` batches ahead."""
    import queue
    import threading
    from concurrent.futures import ThreadPoolExecutor

    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def prepare(batch, pool):
        tokens = bundle.tokenizer([s.get("txt", "") for s in batch])
        if on_device:
            return batch, None, None, tokens
        images = list(pool.map(lambda s: _pil_one(s, bundle), batch))
        return batch, [im for im in images if im is not None], [im is not None for im in images], tokens

    def produce():
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                batch = []
                for sample in iter_samples(tar_url):
                    batch.append(sample)
                    if len(batch) == batch_size:
                        ready.put(prepare(batch, pool))
                        batch = []
                if batch:
                    ready.put(prepare(batch, pool))
            ready.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            ready.put(exc)

    threading.Thread(target=produce, daemon=True).start()
    while (item := ready.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def embed_tar(tar_url: str, index: int, out: str, bundle, batch_size: int = 0, decode: str = "auto",
              decode_threads: int = 0):
    """The files of part ``index`` (embeddings of every sample of ``tar_url``) and its stats.

    ``decode``: ``tensor`` decodes on the device (nvJPEG on a GPU), ``pil`` with PIL on the
    CPU through open_clip's transform; ``auto`` is ``tensor`` on a GPU, ``pil`` otherwise.
    ``batch_size`` and ``decode_threads`` 0: sized from the device and the CPUs."""
    on_device = decode == "tensor" or (decode == "auto" and bundle.device.startswith("cuda"))
    batch_size = batch_size or auto_batch_size(bundle.device)
    urls = part_urls(out, index)
    img_parts, text_parts = [], []
    meta = {"key": [], "url": [], "text": [], "decoded": [], "entry_ids": [], "quality": []}
    for prepared in _prepared_batches(tar_url, bundle, batch_size, on_device, decode_threads or auto_decode_threads()):
        _embed_batch(prepared, bundle, img_parts, text_parts, meta)
    dim = text_parts[0].shape[1] if text_parts else _dim(bundle)
    img = np.concatenate(img_parts) if img_parts else np.zeros((0, dim), np.float16)
    txt = np.concatenate(text_parts) if text_parts else np.zeros((0, dim), np.float16)
    similarity = (img.astype(np.float32) * txt.astype(np.float32)).sum(axis=1)
    decoded = np.array(meta["decoded"], dtype=bool)
    files = {urls["img"]: npy_bytes(img), urls["text"]: npy_bytes(txt), urls["meta"]: pa.table({
        "key": meta["key"], "url": meta["url"], "text": meta["text"],
        "similarity": pa.array(np.where(decoded, similarity, np.nan), pa.float32(), mask=~decoded),
        "entry_ids": pa.array(meta["entry_ids"], pa.list_(pa.int32())),
        "quality": pa.array(meta["quality"], pa.float32())})}
    return files, {"samples": len(meta["key"]), "undecodable": int((~decoded).sum())}


def _dim(bundle) -> int:
    import torch

    with torch.no_grad():
        return int(bundle.model.encode_text(bundle.tokenizer(["x"]).to(bundle.device)).shape[1])


def _pil_one(sample: dict, bundle):
    """One image through open_clip's transform, or None when it does not decode."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(sample["image"])) as im:
            return bundle.preprocess(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - any undecodable image is recorded, not fatal
        return None


def _device_images(batch: list[dict], bundle) -> tuple[list, list[bool]]:
    from curation.gpu.decode import decode_batch, preprocess_config, to_model_input

    decoded_images = decode_batch([s.get("image", b"") for s in batch], bundle.device)
    ok = [im for im in decoded_images if im is not None]
    images = list(to_model_input(ok, preprocess_config(bundle.model), bundle.device)) if ok else []
    return images, [im is not None for im in decoded_images]


def _embed_batch(prepared: tuple, bundle, img_parts: list, text_parts: list, meta: dict) -> None:
    import torch

    batch, images, decoded, tokens = prepared
    if images is None:  # decoded here, on the device
        images, decoded = _device_images(batch, bundle)
    texts = tokens.to(bundle.device)
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
        meta["entry_ids"].append(_entry_ids(info.get("entry_ids")))
        quality = info.get("quality")
        meta["quality"].append(float(quality) if isinstance(quality, (int, float)) else None)


def _entry_ids(value) -> list[int]:
    """The matched entry ids of a tar's ``<key>.json`` (none when it has no such list)."""
    if not isinstance(value, list):
        return []
    return [int(v) for v in value if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31]

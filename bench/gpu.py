"""``make bench-gpu``: embedding throughput (images/s, JPEG tars at 224 px) and CLIP training
throughput (samples/s) with GPU utilisation, as JSON. Inputs are generated on the spot; no
network, no pretrained weights (random init is fine for throughput).

    python -m bench.gpu [--model ViT-B-32] [--images 20000] [--batch 512] [--train-steps 200]

On a GPU, JPEGs are decoded in batches by ``torchvision.io.decode_jpeg(device="cuda")`` and
resized there, so the CPU does not limit the GPU; on a CPU everything runs there (slowly).
"""

import argparse
import io
import os
import sys
import tempfile
import threading
import time

import numpy as np
from PIL import Image

from bench import emit
from curation.export.wds import TarWriter
from curation.gpu.tars import iter_samples


def make_tars(folder: str, n: int, per_tar: int = 5000, size: int = 256) -> list[str]:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, size, dtype=np.float32)
    paths = []
    for t in range(0, n, per_tar):
        path = os.path.join(folder, f"{t // per_tar:05d}.tar")
        with open(path, "wb") as f:
            tar = TarWriter(f)
            for i in range(t, min(n, t + per_tar)):
                noise = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
                pixels = (base[None, :, None] * rng.random(3) + noise).clip(0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
                tar.add(f"s{i:07d}.jpg", buf.getvalue())
                tar.add(f"s{i:07d}.txt", f"a photo number {i}".encode())
            tar.close()
        paths.append(path)
    return paths


class Utilisation(threading.Thread):
    """Samples GPU utilisation (percent) while running."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self):
        import torch

        while not self.stop.wait(0.2):
            try:
                self.samples.append(int(torch.cuda.utilization()))
            except Exception:  # noqa: BLE001 - no NVML: no utilisation figure
                return

    def mean(self):
        return round(float(np.mean(self.samples)), 1) if self.samples else None


def gpu_batches(tars: list[str], batch: int, size: int, mean, std, device: str):
    import torch
    import torchvision

    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    buffer = []
    for path in tars:
        for sample in iter_samples(path):
            buffer.append(torch.frombuffer(bytearray(sample["image"]), dtype=torch.uint8))
            if len(buffer) == batch:
                yield _to_tensor(torchvision, torch, buffer, size, mean_t, std_t, device)
                buffer = []
    if buffer:
        yield _to_tensor(torchvision, torch, buffer, size, mean_t, std_t, device)


def _to_tensor(torchvision, torch, raw, size, mean_t, std_t, device):
    if device.startswith("cuda"):
        images = torchvision.io.decode_jpeg(raw, device=device)
    else:
        images = [torchvision.io.decode_jpeg(r) for r in raw]
    resized = [torch.nn.functional.interpolate(im[None].float(), size=(size, size), mode="bilinear",
                                               antialias=True) for im in images]
    return (torch.cat(resized) / 255.0 - mean_t) / std_t


def bench_embed(bundle, tars, batch: int) -> dict:
    import torch

    visual = bundle.model.visual
    size = visual.image_size[0] if isinstance(visual.image_size, tuple) else visual.image_size
    mean = getattr(visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    std = getattr(visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711)
    dtype = torch.bfloat16 if bundle.device.startswith("cuda") else None
    util = Utilisation()
    util.start()
    count, start = 0, None
    with torch.no_grad(), torch.autocast(bundle.device.split(":")[0], dtype=dtype, enabled=dtype is not None):
        for i, images in enumerate(gpu_batches(tars, batch, size, mean, std, bundle.device)):
            emb = bundle.model.encode_image(images)
            if i == 0:  # warm-up batch not timed
                _sync(bundle.device)
                start = time.perf_counter()
                continue
            count += len(emb)
    _sync(bundle.device)
    util.stop.set()
    seconds = time.perf_counter() - start
    return {"images": count, "seconds": round(seconds, 2), "images_per_s": round(count / seconds, 1),
            "gpu_utilisation_pct": util.mean()}


def bench_train(name: str, device: str, batch: int, steps: int) -> dict:
    import open_clip
    import torch

    model, _, _ = open_clip.create_model_and_transforms(name, device=device)
    model.train()
    size = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    tokenizer = open_clip.get_tokenizer(name)
    loss_fn = open_clip.ClipLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size, device=device)
    texts = tokenizer([f"a photo number {i}" for i in range(batch)]).to(device)
    dtype = torch.bfloat16 if device.startswith("cuda") else None
    util = Utilisation()
    util.start()
    for step in range(steps + 5):
        if step == 5:
            _sync(device)
            start = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            img, txt, scale = model(images, texts)[:3]
            loss = loss_fn(img, txt, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    util.stop.set()
    seconds = time.perf_counter() - start
    return {"steps": steps, "batch": batch, "seconds": round(seconds, 2),
            "samples_per_s": round(steps * batch / seconds, 1), "gpu_utilisation_pct": util.mean()}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--train-batch", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    import torch

    from curation.gpu.models import load_model

    bundle = load_model(args.model)
    result = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, "model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        tars = make_tars(tmp, args.images)
        result["inputs"] = {"images": args.images, "tars": len(tars),
                            "generate_s": round(time.perf_counter() - start, 1)}
        result["embed"] = bench_embed(bundle, tars, args.batch)
    del bundle
    result["train"] = bench_train(args.model, "cuda" if torch.cuda.is_available() else "cpu", args.train_batch,
                                  args.train_steps)
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

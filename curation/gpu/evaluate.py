"""Zero-shot evaluation of a checkpoint (``curate eval``) on local WebDataset data sets in
CLIP_benchmark's layout, with the ``clip-benchmark`` package as the engine:

    DATASET/classnames.txt                          (classification: one class name a line)
    DATASET/zeroshot_classification_templates.txt   (classification: ``a photo of a {c}.``)
    DATASET/dataset_type.txt                        (``retrieval`` for image-text retrieval)
    DATASET/test/nshards.txt, DATASET/test/0.tar, ... (image + ``cls``, or image + ``txt``)

Classification gives top-1, top-5 and mean per-class recall; retrieval gives recall@1/5/10
both ways (image to text and text to image), as clip_benchmark computes them (its
``zeroshot_classification.evaluate`` and ``zeroshot_retrieval.evaluate``, on its own WDS
reader), so the numbers are its CLI's. ``make_dataset`` writes an ImageFolder-style folder
(one subfolder per class) in that layout.
"""

import json
import os
from pathlib import Path

from curation.core.errors import InputError

TEMPLATES = ("a photo of a {c}.", "a picture of a {c}.", "an image of a {c}.")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
RECALL_K = (1, 5, 10)


def dataset_kind(folder: str) -> str:
    """``classification`` or ``retrieval``, from ``dataset_type.txt`` (classification without one)."""
    path = Path(folder)
    if not (path / "test" / "nshards.txt").is_file():
        raise InputError(f"{folder}: not a CLIP_benchmark WebDataset folder (no test/nshards.txt)")
    kind_file = path / "dataset_type.txt"
    kind = kind_file.read_text().strip().lower() if kind_file.is_file() else "classification"
    if kind not in ("classification", "retrieval"):
        raise InputError(f"{kind_file}: {kind!r} (classification or retrieval)")
    if kind == "classification":
        for name in ("classnames.txt", "zeroshot_classification_templates.txt"):
            if not (path / name).is_file():
                raise InputError(f"{folder}: no {name} (a classification set needs it)")
    return kind


def evaluate_dataset(bundle, folder: str, batch_size: int = 64, workers: int = 0) -> dict:
    """One data set's metrics for a loaded model (``curation.gpu.models.load_model``)."""
    import torch
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval

    kind = dataset_kind(folder)
    dataset = build_dataset(f"wds/{Path(folder).name}", root=folder, transform=bundle.preprocess, split="test",
                            download=False, task=f"zeroshot_{kind}")
    amp = bundle.device.startswith("cuda")  # mixed precision on a GPU (clip_benchmark's default), none on a CPU
    # As clip_benchmark's CLI reads a WDS set: batched by webdataset, in file order.
    loader = torch.utils.data.DataLoader(dataset.batched(batch_size), batch_size=None, shuffle=False,
                                         num_workers=workers)
    if kind == "retrieval":
        metrics = zeroshot_retrieval.evaluate(bundle.model, loader, bundle.tokenizer, recall_k_list=list(RECALL_K),
                                              device=bundle.device, amp=amp)
    else:
        metrics = zeroshot_classification.evaluate(bundle.model, loader, bundle.tokenizer, dataset.classes,
                                                   dataset.templates, bundle.device, amp=amp, verbose=False)
    return {"dataset": Path(folder).name, "task": f"zeroshot_{kind}",
            "metrics": {k: float(v) for k, v in metrics.items()}}


def run_eval(cfg) -> dict:
    """Every data set of ``cfg.datasets``; ``results.json`` (and the run's data card with ``--run``)."""
    from curation.core.io import exists, join, read_json, write_json_atomic
    from curation.gpu.models import load_model

    folders = [os.path.abspath(d) for d in cfg.datasets]
    for folder in folders:
        dataset_kind(folder)  # every set checked before the model loads
    if cfg.checkpoint and not os.path.isfile(cfg.checkpoint):
        raise InputError(f"--checkpoint {cfg.checkpoint}: no such file")
    bundle = load_model(cfg.model, cfg.checkpoint, cfg.device)
    results = {"model": cfg.model, "checkpoint": cfg.checkpoint, "device": bundle.device,
               "results": [evaluate_dataset(bundle, f, cfg.batch_size) for f in folders]}
    write_json_atomic(cfg.out, results)
    if cfg.run is not None:
        card_url = join(cfg.run, "datacard.json")
        if not exists(card_url):
            raise InputError(f"--run {cfg.run}: no datacard.json")
        card = read_json(card_url)
        card.setdefault("evaluations", {})[cfg.checkpoint or cfg.model] = results["results"]
        write_json_atomic(card_url, card)
    return results


def folder_samples(images: str) -> tuple[list[str], list[tuple[int, str, bytes]]]:
    """Classes and (label, extension, bytes) samples of an ImageFolder-style folder
    (``images/<class>/<file>``): classes and files in sorted order."""
    root = Path(images)
    if not root.is_dir():
        raise InputError(f"--images {images}: not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(f"--images {images}: no class folders (one subfolder per class)")
    samples = [(label, f.suffix.lower().lstrip("."), f.read_bytes()) for label, name in enumerate(classes)
               for f in sorted((root / name).iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    if not samples:
        raise InputError(f"--images {images}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    return classes, samples


def export_samples(export: str, curated: str, label_column: str) -> tuple[list[str], list[tuple[int, str, bytes]]]:
    """Classes and samples of an exported set (``curate export`` tars) labelled by a column
    of its curated rows (joined by key): classes in sorted order, samples in tar order."""
    from curation.core.io import list_files, read_parquet
    from curation.export.finish import export_source
    from curation.gpu.tars import iter_samples

    labels: dict = {}
    for url in list_files(export_source(curated, False)[0], (".parquet",)):
        table = read_parquet(url)
        if label_column not in table.column_names:
            raise InputError(f"{url}: no label column {label_column!r} (columns: {', '.join(table.column_names)})")
        labels.update((str(k), v) for k, v in zip(table["key"].to_pylist(), table[label_column].to_pylist())
                      if v is not None)
    found = []
    for tar in list_files(export, (".tar",)):
        for sample in iter_samples(tar):
            key = sample.get("json", {}).get("key", sample["__key__"])
            if key in labels and sample.get("image"):
                ext = next((k for k in sample if k in ("jpg", "jpeg", "png", "webp")), "jpg")
                found.append((str(labels[key]), ext, sample["image"]))
    if not found:
        raise InputError(f"--export {export}: no exported sample has a {label_column!r} label")
    classes = sorted({label for label, _, _ in found})
    index = {c: i for i, c in enumerate(classes)}
    return classes, [(index[label], ext, data) for label, ext, data in found]


def make_dataset(images: str | None, out: str, templates: tuple = TEMPLATES, per_tar: int = 10_000,
                 export: str | None = None, curated: str | None = None, label_column: str = "label") -> dict:
    """An ImageFolder-style folder, or an exported set with a label column, as a CLIP_benchmark
    WDS set: class names from the folder names (underscores as spaces) or the labels."""
    import tarfile

    classes, samples = export_samples(export, curated, label_column) if export else folder_samples(images)
    target = Path(out)
    (target / "test").mkdir(parents=True, exist_ok=True)
    shards = max(1, -(-len(samples) // per_tar))
    for shard in range(shards):
        with tarfile.open(target / "test" / f"{shard}.tar", "w") as tar:
            for i, (label, ext, data) in enumerate(samples[shard * per_tar:(shard + 1) * per_tar],
                                                   start=shard * per_tar):
                _add(tar, f"s{i:07d}.{ext.replace('jpeg', 'jpg')}", data)
                _add(tar, f"s{i:07d}.cls", str(label).encode())
    (target / "test" / "nshards.txt").write_text(f"{shards}\n")
    (target / "classnames.txt").write_text("\n".join(str(c).replace("_", " ") for c in classes) + "\n")
    (target / "zeroshot_classification_templates.txt").write_text("\n".join(templates) + "\n")
    (target / "dataset_type.txt").write_text("classification\n")
    summary = {"classes": len(classes), "images": len(samples), "tars": shards}
    (target / "make_dataset.json").write_text(json.dumps(summary) + "\n")
    return summary


def _add(tar, name: str, data: bytes) -> None:
    import io
    import tarfile

    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def eval_command(cfg: dict, executor=None) -> int:
    import sys

    results = run_eval(cfg["eval"])
    for r in results["results"]:
        sys.stdout.write(json.dumps({"dataset": r["dataset"], "task": r["task"], **r["metrics"]}) + "\n")
    return 0


def make_dataset_command(cfg: dict, executor=None) -> int:
    import sys

    c = cfg["make_dataset"]
    templates = tuple(c.templates) or TEMPLATES
    bad = [t for t in templates if "{c}" not in t]
    if bad:
        raise InputError(f"--templates {bad[0]!r}: a template needs {{c}} where the class name goes")
    if (c.images is None) == (c.export is None):
        raise InputError("eval make-dataset: give --images (a folder of class folders) or --export with --curated")
    if c.export is not None and c.curated is None:
        raise InputError("--export needs --curated (the run whose rows hold --label-column)")
    sys.stdout.write(json.dumps(make_dataset(c.images, c.out, templates, export=c.export, curated=c.curated,
                                             label_column=c.label_column)) + "\n")
    return 0

"""`curate eval` against clip-benchmark's own CLI on the same checkpoint and data sets (real
clip-art images, `tests/data/eval_images`): zero-shot classification through `curate eval
make-dataset`, and image-text retrieval on a set written here in the same layout."""

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from curation.core.errors import InputError
from curation.gpu.evaluate import dataset_kind
from jobs import cli

IMAGES = Path(__file__).resolve().parents[1] / "data" / "eval_images"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from curation.gpu.models import load_model

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save({"state_dict": load_model("tiny", None, "cpu", seed=3).model.state_dict()}, path)
    return path


def retrieval_set(folder: Path) -> Path:
    """Each image with two captions (its file name as words, and its class), in CLIP_benchmark's layout."""
    (folder / "test").mkdir(parents=True)
    with tarfile.open(folder / "test" / "0.tar", "w") as tar:
        for i, path in enumerate(sorted(IMAGES.rglob("*.png"))):
            words = " ".join(w for w in path.stem.replace("-", "_").split("_") if w and not w.isdigit())
            for name, data in ((f"{i:05d}.png", path.read_bytes()),
                               (f"{i:05d}.txt", f"{words}\na picture of {path.parent.name}".encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    (folder / "test" / "nshards.txt").write_text("1\n")
    (folder / "dataset_type.txt").write_text("retrieval\n")
    return folder


def reference(tmp_path, dataset: Path, checkpoint: Path, task: str, extra=()) -> dict:
    """clip-benchmark's CLI (`clip_benchmark eval`), in this process, our model configs registered."""
    from clip_benchmark.cli import main

    from curation.gpu.models import register_configs

    register_configs()
    out = tmp_path / f"cli-{task}.json"
    argv = ["clip_benchmark", "eval", "--dataset", f"wds/{dataset.name}", "--dataset_root", str(dataset),
            "--model", "tiny", "--pretrained", str(checkpoint), "--task", task, "--output", str(out), "--no_amp",
            "--batch_size", "8", *extra]  # its device: cuda when there is one, as ours below
    old, sys.argv = sys.argv, argv
    try:
        main()
    finally:
        sys.argv = old
    return json.loads(out.read_text())["metrics"]


def test_classification_and_retrieval_equal_clip_benchmarks_cli(tmp_path, checkpoint, capsys):
    assert cli.main(["eval", "make-dataset", "--images", str(IMAGES), "--out", str(tmp_path / "clipart")]) == 0
    assert json.loads(capsys.readouterr().out) == {"classes": 6, "images": 29, "tars": 1}
    assert (tmp_path / "clipart" / "classnames.txt").read_text().split("\n")[:2] == ["animals", "buildings"]
    retrieval = retrieval_set(tmp_path / "captions")
    assert cli.main(["eval", "--model", "tiny", "--checkpoint", str(checkpoint), "--datasets",
                     str(tmp_path / "clipart"), "--datasets", str(retrieval), "--out", str(tmp_path / "r.json"),
                     "--batch-size", "8"]) == 0
    ours = {r["dataset"]: r["metrics"] for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    theirs = reference(tmp_path, tmp_path / "clipart", checkpoint, "zeroshot_classification")
    assert set(ours["clipart"]) == {"acc1", "acc5", "mean_per_class_recall"}
    for key, value in theirs.items():
        assert abs(ours["clipart"][key] - value) <= 1e-6, key
    theirs = reference(tmp_path, retrieval, checkpoint, "zeroshot_retrieval", ["--recall_k", "1", "5", "10"])
    assert set(ours["captions"]) == {f"{d}_retrieval_recall@{k}" for d in ("image", "text") for k in (1, 5, 10)}
    for key, value in theirs.items():
        assert abs(ours["captions"][key] - value) <= 1e-6, key
    assert 0 < ours["captions"]["image_retrieval_recall@10"] <= 1


def test_the_results_go_into_a_runs_data_card_and_report(tmp_path, checkpoint):
    from tests.helpers import make_rows, write_metadata, write_pool

    assert cli.main(["eval", "make-dataset", "--images", str(IMAGES), "--out", str(tmp_path / "clipart"),
                     "--templates", "a drawing of a {c}."]) == 0
    pool = write_pool(tmp_path / "pool", make_rows(40, seed=1), shards=1)
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(write_metadata(tmp_path / "m.json", ["dog"])),
                     "--out", str(tmp_path / "run"), "--t", "5"]) == 0
    assert cli.main(["eval", "--model", "tiny", "--checkpoint", str(checkpoint), "--datasets",
                     str(tmp_path / "clipart"), "--out", str(tmp_path / "r.json"), "--run", str(tmp_path / "run"),
                     "--device", "cpu"]) == 0
    card = json.loads((tmp_path / "run" / "datacard.json").read_text())
    assert card["evaluations"][str(checkpoint)][0]["task"] == "zeroshot_classification"
    assert cli.main(["report", "--out", str(tmp_path / "run")]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "Zero-shot evaluation" in page and "acc1 " in page


def test_bad_data_sets_and_options_are_clear_errors(tmp_path, caplog):
    with pytest.raises(InputError, match="not a CLIP_benchmark WebDataset folder"):
        dataset_kind(str(tmp_path))
    assert cli.main(["eval", "--model", "tiny", "--out", str(tmp_path / "r.json")]) == 2
    assert "--datasets []: give at least one data set folder" in caplog.text
    (tmp_path / "empty").mkdir()
    assert cli.main(["eval", "make-dataset", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "d")]) == 2
    assert cli.main(["eval", "make-dataset", "--images", str(IMAGES), "--out", str(tmp_path / "d"),
                     "--templates", "no placeholder"]) == 2


def test_an_exported_set_with_a_label_column_becomes_a_data_set(tmp_path, checkpoint, capsys):
    from tests.helpers import write_metadata, write_pool

    rows = [{"key": f"k{i:02d}", "url": None, "text": f"a picture of {p.parent.name}", "image": p.read_bytes(),
             "label": p.parent.name} for i, p in enumerate(sorted(IMAGES.rglob("*.png")))]
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    meta = write_metadata(tmp_path / "m.json", ["picture"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "run"),
                     "--t", "1000", "--unit", "text"]) == 0
    assert cli.main(["export", "--curated", str(tmp_path / "run"), "--out", str(tmp_path / "tars")]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "make-dataset", "--export", str(tmp_path / "tars"), "--curated", str(tmp_path / "run"),
                     "--label-column", "label", "--out", str(tmp_path / "labelled")]) == 0
    assert json.loads(capsys.readouterr().out) == {"classes": 6, "images": 29, "tars": 1}
    names = (tmp_path / "labelled" / "classnames.txt").read_text().split()
    assert names == sorted({r["label"] for r in rows})
    with tarfile.open(tmp_path / "labelled" / "test" / "0.tar") as tar:
        labels = [int(tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith(".cls")]
    assert sorted(labels) == sorted(names.index(r["label"]) for r in rows)
    assert cli.main(["eval", "make-dataset", "--export", str(tmp_path / "tars"), "--curated", str(tmp_path / "run"),
                     "--label-column", "nope", "--out", str(tmp_path / "x")]) == 2

"""`curate experiment` end to end on the CPU with the tiny model: a pool of real clip-art
images whose alt-texts are their file names and classes, two curated arms and the uniform
baseline, each exported, trained for the same steps and evaluated on the clip-art set."""

import json
from pathlib import Path

import pyarrow.parquet as pq

from jobs import cli
from tests.helpers import write_metadata, write_pool

IMAGES = Path(__file__).resolve().parents[1] / "data" / "eval_images"


def test_experiment_runs_end_to_end_and_resumes(tmp_path, capsys):
    rows = []
    for i, path in enumerate(sorted(IMAGES.rglob("*.png"))):
        words = " ".join(w for w in path.stem.replace("-", "_").split("_") if w and not w.isdigit())
        rows.append({"key": f"img{i:03d}", "url": None, "text": f"{words} {path.parent.name}",
                     "image": path.read_bytes()})
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    meta = write_metadata(tmp_path / "m.json", ["animals", "buildings", "food", "plants", "tools", "transportation",
                                                 "apple", "beer", "church"])
    assert cli.main(["eval", "make-dataset", "--images", str(IMAGES), "--out", str(tmp_path / "clipart")]) == 0
    argv = ["experiment", "--pool", str(pool), "--metadata", str(meta), "--t", "2", "--t2", "4", "--steps", "2",
            "--batch-size", "4", "--eval", str(tmp_path / "clipart"), "--out", str(tmp_path / "exp")]
    assert cli.main(argv) == 0
    results = json.loads((tmp_path / "exp" / "results.json").read_text())["arms"]
    assert [a["arm"] for a in results] == ["curated t=2", "curated t=4", "uniform baseline"]
    curated = json.loads((tmp_path / "exp" / "curated-t2" / "datacard.json").read_text())["curated_rows"]
    assert results[0]["samples"] == results[2]["samples"] == curated < len(rows)  # the same size
    assert len({a["trained_samples"] for a in results}) == 1  # the same budget
    for arm in results:
        metrics = arm["results"][0]["metrics"]
        assert arm["results"][0]["dataset"] == "clipart" and 0 <= metrics["acc1"] <= 1
    baseline = [r for p in sorted((tmp_path / "exp" / "baseline" / "curated").glob("*.parquet"))
                for r in pq.read_table(p).to_pylist()]
    assert len(baseline) == curated and {r["key"] for r in baseline} <= {r["key"] for r in rows}
    page = (tmp_path / "exp" / "report.html").read_text()
    assert "uniform baseline" in page and "data:image/png;base64," in page
    assert (tmp_path / "exp" / "experiment.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A rerun resumes: every step is complete, the results are the same.
    before = (tmp_path / "exp" / "results.json").read_text()
    assert cli.main(argv) == 0
    assert (tmp_path / "exp" / "results.json").read_text() == before

"""`curate serve --export --index`: kNN search by text and by an uploaded image, results shown
as the export's images with their captions (tiny model, real clip-art images)."""

import io
from pathlib import Path

from curation.report.serve import make_app
from jobs import cli
from tests.helpers import write_metadata, write_pool

IMAGES = Path(__file__).resolve().parents[1] / "data" / "eval_images"


def test_knn_by_text_and_by_image_shows_exported_images(tmp_path):
    files = sorted(IMAGES.rglob("*.png"))
    rows = [{"key": f"img{i:03d}", "url": None, "text": f"a picture of {p.parent.name}", "image": p.read_bytes()}
            for i, p in enumerate(files)]
    pool = write_pool(tmp_path / "pool", rows, shards=2)
    meta = write_metadata(tmp_path / "m.json", ["picture"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "run"),
                     "--t", "1000", "--unit", "text"]) == 0
    assert cli.main(["export", "--curated", str(tmp_path / "run"), "--out", str(tmp_path / "tars")]) == 0
    assert cli.main(["embed", "--shards", str(tmp_path / "tars"), "--out", str(tmp_path / "emb"), "--model", "tiny",
                     "--batch-size", "8"]) == 0
    assert cli.main(["index", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "index")]) == 0
    app = make_app(str(tmp_path / "run"), str(tmp_path / "tars"), str(tmp_path / "index"), "tiny")
    client = app.test_client()
    page = client.get("/knn", query_string={"text": "a picture of food", "k": 5}).get_data(as_text=True)
    shown = [part.split("'")[0] for part in page.split("src='/image/")[1:]]
    assert len(shown) == 5 and "a picture of" in page
    for key in shown:
        assert client.get(f"/image/{key}").data[:8] == b"\x89PNG\r\n\x1a\n"
    # An uploaded image finds itself first (its own embedding, similarity 1).
    page = client.post("/knn", data={"image": (io.BytesIO(files[7].read_bytes()), "query.png"), "k": "3"},
                       content_type="multipart/form-data").get_data(as_text=True)
    first = page.split("src='/image/")[1].split("'")[0]
    assert client.get(f"/image/{first}").data == files[7].read_bytes()
    assert client.get("/image/..%2F..%2Frun%2Fdatacard.json").status_code == 404
    assert client.get("/image/not-a-key").status_code == 404
    bad = client.post("/knn", data={"image": (io.BytesIO(b"not an image"), "x.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 200 and "not a readable image" in bad.get_data(as_text=True)

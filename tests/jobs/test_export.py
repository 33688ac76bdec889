"""Export to WebDataset tars: images from files, bytes and a loopback HTTP server, failures
recorded per sample, hostile keys, resume, shuffle, and online balancing."""

import io
import json
import tarfile
import threading
import time
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image

from curation.export.config import ExportConfig
from curation.export.online import OnlineBalancer
from curation.export.policy import FetchOptions
from curation.export.run import run_export
from jobs import cli
from tests.helpers import write_metadata, write_pool


def png(color, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


class Handler(SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/slow.png":
            time.sleep(4)
        if self.path in ("/slow.png", "/missing.png"):
            self.send_error(404)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    for i, color in enumerate(["red", "green", "blue"]):
        (root / f"{i}.png").write_bytes(png(color))
    (root / "notimage.png").write_text("<html>not an image</html>")
    # A plain robots.txt: its fetch (under the short test timeout) must not be what fails.
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def curate(tmp_path, rows, entries, t=1000, name="run"):
    pool = write_pool(tmp_path / f"{name}-pool", rows)
    meta = write_metadata(tmp_path / f"{name}-meta.json", entries)
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / name),
                     "--t", str(t)]) == 0
    return tmp_path / name


def tar_members(path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_export_from_files_and_http_records_failures(executor, tmp_path, http_root):
    jpg = tmp_path / "photo.jpg"
    Image.new("RGB", (50, 20), "yellow").save(jpg, format="JPEG")
    (tmp_path / "local.png").write_bytes(png("white"))
    rows = [
        {"key": "../etc/passwd", "url": f"{http_root}/0.png", "text": "a red dog"},
        {"key": ".hidden", "url": f"{http_root}/1.png", "text": "a green dog"},
        {"key": "a/b", "url": f"{http_root}/2.png", "text": "a blue dog"},
        {"key": "dup.key", "url": str(tmp_path / "local.png"), "text": "a white dog"},
        {"key": "dup_key", "url": f"file://{jpg}", "text": "a yellow dog"},
        {"key": "gone", "url": f"{http_root}/missing.png", "text": "a lost dog"},
        {"key": "slow", "url": f"{http_root}/slow.png", "text": "a slow dog"},
        {"key": "html", "url": f"{http_root}/notimage.png", "text": "a fake dog"},
    ]
    run = curate(tmp_path, rows, ["dog", "red"])
    # 1.5 s: short enough for slow.png (4 s) to time out, long enough for a loaded CI machine.
    cfg = ExportConfig(curated=str(run), out=str(tmp_path / "tars"), samples_per_tar=3)
    fetch = FetchOptions(timeout=1.5, retries=1, allow_local_files=True, allow_private_addresses=True)
    summary = run_export(executor, cfg, fetch)
    out = tmp_path / "tars"
    assert sorted(p.name for p in out.glob("*.tar")) == ["00000.tar", "00001.tar", "00002.tar"]
    sizes = json.loads((out / "sizes.json").read_text())
    status = [r for name in ("00000", "00001", "00002") for r in pq.read_table(out / f"{name}.parquet").to_pylist()]
    assert len(status) == 8 and summary["samples"] == sum(sizes.values()) == 5
    by_source = {r["source_key"]: r for r in status}
    assert by_source["gone"]["status"] == "failed_to_download" and "404" in by_source["gone"]["error_message"]
    assert by_source["slow"]["status"] == "failed_to_download" and "timed out" in by_source["slow"]["error_message"]
    assert by_source["html"]["status"] == "decode_error"
    names = [n for tar in sorted(out.glob("*.tar")) for n in tar_members(tar)]
    assert all("/" not in n and not n.startswith(".") and ".." not in n for n in names)
    assert len(names) == len(set(names)) == 15
    assert {by_source["dup.key"]["key"], by_source["dup_key"]["key"]} == {"dup_key", "dup_key-1"}
    samples = list(wds.WebDataset([str(p) for p in sorted(out.glob("*.tar"))], shardshuffle=False).decode("pil"))
    assert len(samples) == 5
    texts = sorted(s["txt"] for s in samples)
    assert texts == ["a blue dog", "a green dog", "a red dog", "a white dog", "a yellow dog"]
    red = next(s for s in samples if s["txt"] == "a red dog")
    assert red["json"]["entries"] == ["dog", "red"] and red["json"]["key"] == "../etc/passwd"
    assert red["png"].size == (40, 30)


def test_rerun_skips_finished_tars_and_gives_identical_output(executor, tmp_path, http_root):
    rows = [{"key": f"k{i}", "url": f"{http_root}/{i % 3}.png", "text": f"dog number {i}"} for i in range(7)]
    run = curate(tmp_path, rows, ["dog"])
    cfg = ExportConfig(curated=str(run), out=str(tmp_path / "tars"), samples_per_tar=3)
    assert cli.main(["export", "--curated", str(run / "curated"), "--out", str(tmp_path / "tars"),
                     "--samples-per-tar", "3", "--allow-private-addresses"]) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "tars").glob("*.tar")}
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tars").glob("*.tar")}
    (tmp_path / "tars" / "_done" / "00001.json").unlink()
    run_export(executor, cfg, FetchOptions(allow_private_addresses=True))
    again = {p.name: p.read_bytes() for p in (tmp_path / "tars").glob("*.tar")}
    assert again == first
    assert {n: p.stat().st_mtime_ns for n, p in ((p.name, p) for p in (tmp_path / "tars").glob("*.tar"))
            if n != "00001.tar"} == {n: m for n, m in mtimes.items() if n != "00001.tar"}


def test_image_bytes_resized_and_shuffle_is_deterministic(executor, tmp_path):
    rows = [{"key": f"k{i:03d}", "url": None, "text": f"cat {i}", "image": png("red", (300, 200))}
            for i in range(30)]
    run = curate(tmp_path, rows, ["cat"])
    orders = []
    for name, seed in (("a", 5), ("b", 5), ("c", None)):
        cfg = ExportConfig(curated=str(run), out=str(tmp_path / name), samples_per_tar=8, shuffle_seed=seed,
                           resize=64, resize_mode="longest")
        run_export(executor, cfg)
        samples = list(wds.WebDataset([str(p) for p in sorted((tmp_path / name).glob("*.tar"))],
                                      shardshuffle=False).decode("pil"))
        orders.append([s["json"]["key"] for s in samples])
        assert samples[0]["jpg"].size == (64, 43) and samples[0]["json"]["width"] == 64
    assert orders[0] == orders[1] and sorted(orders[0]) == orders[2] and orders[0] != orders[2]


def test_online_export_balances_each_epoch(executor, tmp_path):
    image = png("blue", (8, 8))
    rows = ([{"key": f"d{i}", "text": "a dog", "image": image} for i in range(1500)]
            + [{"key": f"c{i}", "text": "a cat", "image": image} for i in range(400)]
            + [{"key": f"r{i}", "text": "red", "image": image} for i in range(100)])
    for r in rows:
        r["url"] = None
    run = curate(tmp_path, rows, ["dog", "cat", "red"], t=200)
    run_export(executor, ExportConfig(curated=str(run), out=str(tmp_path / "online"), online=True,
                                      samples_per_tar=500))
    out = tmp_path / "online"
    assert sum(json.loads((out / "sizes.json").read_text()).values()) == 2000  # every matched pair
    p = np.load(out / "probabilities.npy")
    assert p.dtype == np.float64 and p.tolist() == [200 / 1500, 200 / 400, 1.0]  # exactly balancing's p
    shards = [str(x) for x in sorted(out.glob("*.tar"))]
    kept_sets, totals = [], Counter()
    balancer = OnlineBalancer.from_export(str(out), seed=0)
    for epoch in range(6):
        balancer.set_epoch(epoch)
        kept = list(balancer(wds.WebDataset(shards, shardshuffle=False).decode()))
        kept_sets.append({s["json"]["key"] for s in kept})
        totals.update(s["json"]["entries"][0] for s in kept)
    assert totals["red"] == 600  # tail entries are kept whole, every epoch
    for entry in ("dog", "cat"):  # head entries: about t per epoch (6 epochs, 5 sd)
        assert abs(totals[entry] / 6 - 200) < 5 * np.sqrt(200 / 6)
    assert kept_sets[0] != kept_sets[1] and kept_sets[1] != kept_sets[2]
    offline = {r["key"] for f in (run / "curated").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert kept_sets[0] == offline  # epoch 0 is the offline subset itself, exactly


def test_shuffled_export_is_the_same_for_any_sharding(executor, tmp_path):
    rows = [{"key": f"k{i:03d}", "url": None, "text": f"cat {i}", "image": png("red", (8, 8))} for i in range(45)]
    orders = []
    for shards in (1, 4):
        pool = write_pool(tmp_path / f"pool{shards}", rows, shards=shards)
        meta = write_metadata(tmp_path / "meta.json", ["cat"])
        run = tmp_path / f"run{shards}"
        assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(run)]) == 0
        out = tmp_path / f"tars{shards}"
        run_export(executor, ExportConfig(curated=str(run), out=str(out), samples_per_tar=10, shuffle_seed=3))
        assert sorted(p.name for p in (out / "_plan").glob("*.parquet")) == [f"0000{i}.parquet" for i in range(5)]
        samples = list(wds.WebDataset([str(p) for p in sorted(out.glob("*.tar"))], shardshuffle=False))
        orders.append([s["__key__"] for s in samples])
    assert orders[0] == orders[1] and sorted(orders[0]) != orders[0] and len(orders[0]) == 45
    from curation.core.hashing import coin

    in_tars = [sorted(orders[0][i:i + 10], key=lambda k: coin(3, k)) for i in range(0, 45, 10)]
    assert [k for tar in in_tars for k in tar] == sorted(orders[0], key=lambda k: coin(3, k))

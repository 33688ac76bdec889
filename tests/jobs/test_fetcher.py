"""The export fetcher against a loopback fleet (three hosts on 127.0.0.x): opt-outs,
politeness, hard deadlines, retry of only what failed, no local file or private address
without its flag, bounded images, face blurring on a real photo, an image-filter hook."""

import io
import json
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curation.export.config import ExportConfig
from curation.export.fetch import Fetcher
from curation.export.policy import FetchOptions, header_opt_out
from curation.export.run import run_export
from jobs import cli
from tests.helpers import write_metadata, write_pool

ASTRONAUT = Path(__file__).resolve().parents[1] / "data" / "astronaut-256.jpg"


def png(color="red", size=(20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


class Host:
    """One loopback host: a path -> handler table, with request counting."""

    def __init__(self, ip: str, routes: dict):
        self.routes, self.hits, self.active, self.peak = routes, {}, 0, 0
        self.lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with host.lock:
                    host.hits[self.path] = host.hits.get(self.path, 0) + 1
                    host.active += 1
                    host.peak = max(host.peak, host.active)
                try:
                    route = host.routes.get(self.path.split("?")[0]) or host.routes.get("*")
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self, host.hits[self.path])
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with host.lock:
                        host.active -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((ip, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{ip}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def send(body: bytes, status: int = 200, headers: dict | None = None, delay: float = 0.0):
    def route(handler, hits):
        time.sleep(delay)
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return route


def drip(handler, hits):
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(200):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.2)


def limited(handler, hits):
    if hits == 1:
        send(b"slow down", 429, {"Retry-After": "1"})(handler, hits)
    else:
        send(png("green"))(handler, hits)


SLOW = {"active": 0, "peak": 0, "lock": threading.Lock()}


def slow_image(handler, hits):
    with SLOW["lock"]:
        SLOW["active"] += 1
        SLOW["peak"] = max(SLOW["peak"], SLOW["active"])
    time.sleep(0.3)
    with SLOW["lock"]:  # before the response: the client cannot start its next request earlier
        SLOW["active"] -= 1
    send(png("blue"))(handler, hits)


FLAKY = {"fail": True}


def flaky(handler, hits):
    if FLAKY["fail"]:
        send(b"busy", 500)(handler, hits)
    else:
        send(png("purple"))(handler, hits)


@pytest.fixture(scope="module")
def fleet():
    a = Host("127.0.0.2", {
        "/robots.txt": send(b"User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n"),
        "/private/x.png": send(png()), "/public/y.png": send(png("white")), "/public/a%20b.png": send(png("pink")),
        "/noai.png": send(png(), headers={"X-Robots-Tag": "noai, noimageai"}),
        "/other.png": send(png("gray"), headers={"X-Robots-Tag": "otherbot: noai"}),
        "/ours.png": send(png(), headers={"X-Robots-Tag": "metaclip-curation: noimageai"}),
        "/tdm.png": send(png(), headers={"tdm-reservation": "1"}),
        "/drip.png": drip, "/limited.png": limited, "/redirect": send(b"", 302, {"Location": "/public/y.png"}),
        "/flaky.png": flaky, "/slow/0.png": slow_image, "/slow/1.png": slow_image, "/slow/2.png": slow_image,
        "/slow/3.png": slow_image, "/slow/4.png": slow_image, "/slow/5.png": slow_image,
    })
    b = Host("127.0.0.3", {"/robots.txt": send(b"oops", 500), "*": send(png())})
    c = Host("127.0.0.4", {"*": send(b"down", 500)})
    yield a, b, c
    for host in (a, b, c):
        host.stop()


def fetch(url, **kw):
    opts = FetchOptions(timeout=kw.pop("timeout", 3.0), allow_private_addresses=kw.pop("private", True), **kw)
    fetcher = Fetcher(opts)
    try:
        return fetcher.fetch(url)
    finally:
        fetcher.close()


def test_opt_outs_are_honoured_and_named(fleet):
    a, b, _ = fleet
    assert fetch(f"{a.url}/public/y.png").status == "ok"
    assert (fetch(f"{a.url}/private/x.png").status, fetch(f"{a.url}/private/x.png").error) == ("opted_out", "robots")
    assert a.hits.get("/private/x.png") is None  # never requested
    assert fetch(f"{a.url}/noai.png").error == "x-robots-tag:noai"
    assert fetch(f"{a.url}/ours.png").error == "x-robots-tag:noimageai"
    assert fetch(f"{a.url}/other.png").status == "ok"  # another robot's directive
    assert fetch(f"{a.url}/tdm.png").error == "tdm-reservation"
    blocked = fetch(f"{b.url}/any.png")
    assert blocked.status == "opted_out" and "complete disallow" in blocked.error
    assert fetch(f"{a.url}/noai.png", disallowed_header_directives="noindex").status == "ok"
    assert fetch(f"{a.url}/private/x.png", robots=False).status == "ok"


def test_robots_is_fetched_once_per_host_per_task(fleet):
    a, _, _ = fleet
    before = a.hits.get("/robots.txt", 0)
    fetcher = Fetcher(FetchOptions(allow_private_addresses=True))
    try:
        results = list(fetcher.fetch_ordered([f"{a.url}/public/y.png"] * 6 + [f"{a.url}/private/x.png"]))
    finally:
        fetcher.close()
    assert [r.status for r in results] == ["ok"] * 6 + ["opted_out"]
    assert a.hits["/robots.txt"] - before == 1


def test_retry_after_redirects_and_urls_with_spaces(fleet):
    a, _, _ = fleet
    start = time.monotonic()
    got = fetch(f"{a.url}/limited.png", retries=1)
    assert got.status == "ok" and time.monotonic() - start >= 0.9 and a.hits["/limited.png"] == 2
    assert fetch(f"{a.url}/redirect").status == "ok"
    assert fetch(f"{a.url}/redirect", max_redirects=0).error.startswith("more than 0 redirects")
    assert fetch(f"{a.url}/public/a b.png").status == "ok"


def test_slow_drip_is_cut_at_the_deadline(fleet):
    a, _, _ = fleet
    start = time.monotonic()
    got = fetch(f"{a.url}/drip.png", timeout=1.0, retries=0)
    took = time.monotonic() - start
    assert got.status == "failed_to_download" and "timed out" in got.error and took < 2.5


def test_circuit_breaker_and_per_host_limits(fleet):
    a, _, c = fleet
    fetcher = Fetcher(FetchOptions(allow_private_addresses=True, retries=0, breaker_failures=3, robots=False))
    try:
        results = list(fetcher.fetch_ordered([f"{c.url}/{i}.png" for i in range(8)]))
    finally:
        fetcher.close()
    assert [r.status for r in results].count("host_unavailable") >= 4
    assert sum(c.hits.values()) <= 3 + 2  # a few in flight when it opened, none after
    fetcher = Fetcher(FetchOptions(allow_private_addresses=True, per_host_connections=2, threads=8, robots=False))
    try:
        assert all(r.status == "ok" for r in fetcher.fetch_ordered([f"{a.url}/slow/{i}.png" for i in range(6)]))
    finally:
        fetcher.close()
    assert SLOW["peak"] == 2  # 8 threads, but two connections to the host at a time


def test_no_local_file_or_private_address_without_its_flag(fleet, tmp_path):
    a, _, _ = fleet
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    for url in (str(secret), f"file://{secret}", "file:///etc/passwd"):
        got = fetch(url)
        assert got.status == "refused" and "--allow-local-files" in got.error
    assert fetch(str(secret), allow_local_files=True).status == "ok"
    hits = sum(a.hits.values())
    got = fetch(f"{a.url}/public/y.png", private=False)
    assert got.status == "refused" and "non-public address 127.0.0.2" in got.error
    assert sum(a.hits.values()) == hits  # nothing was sent
    assert fetch("http://localhost:1/x.png", private=False).status == "refused"
    got = fetch("/dev/zero", allow_local_files=True, max_bytes=1000)  # a device: never read (it never ends)
    assert (got.status, got.error) == ("refused", "/dev/zero: not a regular file")
    for url in ("gs://bucket/x.png", "sftp://host/x.png", "ftp://host/x.png"):
        assert fetch(url).status == "refused"
    assert fetch("http://[::1/x.jpg").status == "failed_to_download"


def curate(tmp_path, rows, entries=("dog",), name="run"):
    pool = write_pool(tmp_path / f"{name}-pool", rows)
    meta = write_metadata(tmp_path / f"{name}-meta.json", list(entries))
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / name),
                     "--t", "1000"]) == 0
    return tmp_path / name


def statuses(out: Path) -> dict:
    return {r["source_key"]: r for f in sorted(out.glob("0*.parquet")) for r in pq.read_table(f).to_pylist()}


def test_export_records_opt_outs_funnel_and_retries_only_what_failed(executor, tmp_path, fleet):
    a, _, _ = fleet
    FLAKY["fail"] = True
    paths = ["/public/y.png", "/private/x.png", "/noai.png", "/tdm.png", "/flaky.png", "/public/a b.png",
             "/missing.png", "/other.png"]
    rows = [{"key": f"k{i}", "url": a.url + p, "text": f"dog {i}"} for i, p in enumerate(paths)]
    run = curate(tmp_path, rows)
    out = tmp_path / "tars"
    cfg = ExportConfig(curated=str(run), out=str(out), samples_per_tar=2)
    summary = run_export(executor, cfg, FetchOptions(allow_private_addresses=True, retries=0, breaker_failures=50))
    got = statuses(out)
    assert got["k1"]["error_message"] == "robots" and got["k2"]["error_message"] == "x-robots-tag:noai"
    assert got["k3"]["error_message"] == "tdm-reservation" and got["k4"]["retryable"]
    assert got["k6"]["status"] == "failed_to_download" and not got["k6"]["retryable"]  # a 404 stays a 404
    assert summary["funnel"] == {"matched": 8, "curated": 8, "opted_out": 3, "fetch_failed": 2, "fetched": 3,
                                 "filtered": 0, "written": 3}
    card = json.loads((run / "datacard.json").read_text())
    assert card["exports"][str(out)]["funnel"]["written"] == 3
    assert cli.main(["report", "--out", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "Export funnel" in page
    assert f"<td>{out}</td><td>8</td><td>8</td><td>3</td><td>2</td><td>3</td><td>0</td>" in page
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.tar")}
    FLAKY["fail"] = False
    flaky_hits, y_hits = a.hits.get("/flaky.png", 0), a.hits.get("/public/y.png", 0)
    cfg = ExportConfig(curated=str(run), out=str(out), samples_per_tar=2, retry_failed=True)
    summary = run_export(executor, cfg, FetchOptions(allow_private_addresses=True, retries=0))
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.tar")}
    assert [n for n in sorted(before) if before[n] != after[n]] == ["00002.tar"]  # k4 sits in the third tar
    assert a.hits["/flaky.png"] == flaky_hits + 1 and a.hits.get("/public/y.png", 0) == y_hits
    assert statuses(out)["k4"]["status"] == "success" and summary["samples"] == 4
    with tarfile.open(out / "00002.tar") as tar:
        assert sorted(tar.getnames()) == ["k4.json", "k4.png", "k4.txt", "k5.json", "k5.png", "k5.txt"]


def test_tar_deadline_and_pixel_limit(executor, tmp_path, fleet):
    a, _, _ = fleet
    bomb = io.BytesIO()
    Image.new("1", (6000, 6000)).save(bomb, format="PNG")
    rows = [{"key": "big", "url": None, "text": "a dog", "image": bomb.getvalue()},
            {"key": "ok", "url": None, "text": "a dog too", "image": png()}]
    run = curate(tmp_path, rows, name="bomb")
    cfg = ExportConfig(curated=str(run), out=str(tmp_path / "t1"), max_pixels=10_000_000)
    run_export(executor, cfg)
    got = statuses(tmp_path / "t1")
    assert got["big"]["status"] == "image_too_large" and got["ok"]["status"] == "success"
    rows = [{"key": f"d{i}", "url": f"{a.url}/drip.png?{i}", "text": "dog"} for i in range(4)]
    run = curate(tmp_path, rows, name="drip")
    start = time.monotonic()
    cfg = ExportConfig(curated=str(run), out=str(tmp_path / "t2"))
    run_export(executor, cfg, FetchOptions(allow_private_addresses=True, timeout=30, threads=2, tar_deadline=1.5,
                                           retries=0))
    assert time.monotonic() - start < 15
    assert {r["status"] for r in statuses(tmp_path / "t2").values()} <= {"deadline", "failed_to_download"}
    assert "deadline" in {r["status"] for r in statuses(tmp_path / "t2").values()}


def drop_small(image, row):
    """An image filter for the hook test: drops images narrower than 100 pixels, and fails on
    one of exactly 30 pixels (a filter's failure drops that sample only)."""
    if image.width == 30:
        raise RuntimeError("no model for this size")
    return "narrower than 100 px" if image.width < 100 else None


def test_faces_blurred_on_a_real_photo_and_filter_hook(executor, tmp_path):
    photo = ASTRONAUT.read_bytes()
    rows = [{"key": "astronaut", "url": None, "text": "a dog astronaut", "image": photo},
            {"key": "tiny", "url": None, "text": "a tiny dog", "image": png(size=(20, 20))},
            {"key": "odd", "url": None, "text": "an odd dog", "image": png(size=(30, 30))}]
    run = curate(tmp_path, rows)
    out = tmp_path / "faces"
    assert cli.main(["export", "--curated", str(run), "--out", str(out), "--blur-faces",
                     "--image-filter", "tests.jobs.test_fetcher:drop_small"]) == 0
    got = statuses(out)
    assert got["tiny"]["status"] == "filtered" and got["tiny"]["error_message"] == "narrower than 100 px"
    assert got["odd"]["status"] == "filtered" and "image filter failed: RuntimeError" in got["odd"]["error_message"]
    assert cli.main(["export", "--curated", str(run), "--out", str(tmp_path / "nofilter"),
                     "--image-filter", "tests.jobs.test_fetcher:no_such_function"]) == 2
    assert not (tmp_path / "nofilter" / "00000.tar").exists()
    with tarfile.open(out / "00000.tar") as tar:
        meta = json.loads(tar.extractfile("astronaut.json").read())
        blurred = np.asarray(Image.open(io.BytesIO(tar.extractfile("astronaut.jpg").read())).convert("L"), float)
    assert len(meta["face_bboxes"]) == 1
    x0, y0, x1, y1 = (int(v * 256) for v in meta["face_bboxes"][0])
    original = np.asarray(Image.open(ASTRONAUT).convert("L"), float)

    def sharpness(a):
        return float(np.abs(np.diff(a, axis=1)).mean())
    assert sharpness(blurred[y0:y1, x0:x1]) < 0.5 * sharpness(original[y0:y1, x0:x1])
    assert abs(sharpness(blurred[200:, :]) - sharpness(original[200:, :])) < 0.2 * sharpness(original[200:, :])
    stats = json.loads((out / "export_stats.json").read_text())
    assert stats["funnel"]["filtered"] == 2 and stats["funnel"]["written"] == 1


def test_header_opt_out_parsing():
    from email.message import Message

    def headers(*values, **extra):
        m = Message()
        for v in values:
            m["X-Robots-Tag"] = v
        for k, v in extra.items():
            m[k.replace("_", "-")] = v
        return m

    directives = ("noai", "noimageai", "noindex", "noimageindex")
    assert header_opt_out(headers("noindex, nofollow"), directives) == "x-robots-tag:noindex"
    assert header_opt_out(headers("googlebot: noindex"), directives) is None
    assert header_opt_out(headers("unavailable_after: 25 Jun 2010 15:00:00 PST"), directives) is None
    assert header_opt_out(headers("*: NoAI"), directives) == "x-robots-tag:noai"
    assert header_opt_out(headers(tdm_reservation="1"), directives) == "tdm-reservation"
    assert header_opt_out(headers(tdm_reservation="0"), directives) is None

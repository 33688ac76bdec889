"""Export throughput against img2dataset on the same loopback fleet, as JSON.

    .venv/bin/python -m bench.export [--images 3000] [--hosts 4] [--threads 16] [--out FILE]

Real images: the PNG files of Debian's ``openclipart-png`` (clip art with descriptive file
names, used as captions), served by ``--hosts`` plain ``http.server`` processes on 127.0.0.2,
127.0.0.3, ... (pinned to the last core). Each client runs pinned to the first core, on the
same url list, with the same settings: ``--threads`` fetch threads, a 10 s timeout, no retries,
images kept as fetched (no resize, no re-encode), the same opt-out header directives, the
same 40 Mpixel limit, one process. Ours additionally checks robots.txt (fetched once per host) and the private-address
rule (``--allow-private-addresses`` here, as the fleet is on loopback); img2dataset has no
per-host connection limit, so ours gets ``--per-host-connections`` = ``--threads``.
img2dataset runs from its own virtualenv (``I2D_PYTHON``, made by ``make bench``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from bench import emit

CLIPART = Path("/usr/share/openclipart/png")
REPO = Path(__file__).resolve().parent.parent
DIRECTIVES = ["noai", "noimageai", "noindex", "noimageindex"]
MAX_PIXELS = 40_000_000  # our default --max-pixels; img2dataset's --max_image_area set to match


def start_fleet(hosts: int) -> tuple[list, list[str]]:
    from tests.services import free_port, wait_for_port

    cores = sorted(os.sched_getaffinity(0))
    procs, bases = [], []
    for i in range(hosts):
        ip, port = f"127.0.0.{2 + i}", free_port()
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", ip, "--directory",
                                 str(CLIPART)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.sched_setaffinity(0, {cores[-1]}))
        wait_for_port(port, host=ip)
        procs.append(proc)
        bases.append(f"http://{ip}:{port}")
    return procs, bases


def url_table(bases: list[str], n: int, folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(CLIPART.rglob("*.png"))[:n]
    if len(files) < n:
        raise SystemExit(f"only {len(files)} images under {CLIPART}")
    rows = [{"key": f"s{i:06d}", "url": f"{bases[i % len(bases)]}/{quote(str(f.relative_to(CLIPART)))}",
             "text": f.stem.replace("_", " "), "entry_ids": []} for i, f in enumerate(files)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "urls.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def run_ours(table: Path, out: Path, threads: int) -> None:
    """One tar of every url, written by our export stage in this (pinned) process."""
    import pyarrow.parquet as pq

    from curation.core.shards import Shard, run_shard
    from curation.export.config import ExportConfig
    from curation.export.policy import FetchOptions
    from curation.export.stage import ExportStage

    n = pq.ParquetFile(table).metadata.num_rows
    fetch = FetchOptions(timeout=10, retries=0, threads=threads, per_host_connections=threads,
                         allow_private_addresses=True, disallowed_header_directives=",".join(DIRECTIVES))
    stage = ExportStage(str(out), {}, [], ExportConfig(curated=str(table), out=str(out), samples_per_tar=n), fetch)
    result = run_shard(stage, Shard("00000", ((str(table), tuple(range(n))),), 0))
    print(json.dumps({"written": result.stats["samples"], "failed": result.stats["failed"]}))


def timed_client(cmd: list[str], core: int, env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800,
                          preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stdout


def _ours_command(table: Path, out: Path, threads: int, n: int, i2d: str) -> list[str]:
    return [sys.executable, "-m", "bench.export", "--threads", str(threads), "--ours", str(table), str(out)]


def _their_command(table: Path, out: Path, threads: int, n: int, i2d: str) -> list[str]:
    return [i2d, "-c", "from img2dataset.main import main; main()", "--url_list", str(table),
            "--input_format", "parquet", "--url_col", "url", "--caption_col", "text", "--output_format", "webdataset",
            "--output_folder", str(out), "--processes_count", "1", "--thread_count", str(threads),
            "--resize_mode", "no", "--skip_reencode", "True", "--timeout", "10", "--retries", "0",
            "--number_sample_per_shard", str(n), "--compute_hash", "None", "--extract_exif", "False",
            "--max_image_area", str(MAX_PIXELS),
            "--enable_wandb", "False", "--disallowed_header_directives", json.dumps(DIRECTIVES)]


def count_written(folder: Path) -> int:
    import tarfile

    n = 0
    for tar_path in folder.rglob("*.tar"):
        with tarfile.open(tar_path) as tar:
            n += sum(1 for m in tar.getmembers() if m.name.endswith((".png", ".jpg")))
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--out", default=None)
    ap.add_argument("--ours", nargs=2, metavar=("TABLE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ours:
        run_ours(Path(args.ours[0]), Path(args.ours[1]), args.threads)
        return 0
    if not CLIPART.is_dir():
        raise SystemExit(f"{CLIPART} missing: install Debian's openclipart-png (apt-get install openclipart-png)")
    i2d = os.environ.get("I2D_PYTHON") or str(REPO / ".bench" / "i2d-venv" / "bin" / "python")
    core = sorted(os.sched_getaffinity(0))[0]
    procs, bases = start_fleet(args.hosts)
    sizes = (args.images // 4, args.images)
    result: dict = {"images": args.images, "hosts": args.hosts, "threads": args.threads}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for name, command in (("ours", _ours_command), ("img2dataset", _their_command)):
                runs = []
                for n in sizes:
                    table = url_table(bases, n, tmp / f"{name}-{n}")
                    seconds, _ = timed_client(command(table, tmp / f"{name}-{n}" / "out", args.threads, n, i2d),
                                              core, env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"})
                    runs.append((n, seconds, count_written(tmp / f"{name}-{n}" / "out")))
                (n1, s1, _), (n2, s2, written) = runs
                # Marginal rate between the two sizes: process start-up and imports cancel out.
                result[name] = {"written": written, "seconds": round(s2, 2),
                                "images_per_s_per_core": round((n2 - n1) / max(s2 - s1, 1e-9), 1),
                                "wall_images_per_s": round(written / s2, 1)}
    finally:
        for proc in procs:
            proc.terminate()
    result["ratio"] = round(result["ours"]["images_per_s_per_core"]
                            / max(result["img2dataset"]["images_per_s_per_core"], 1e-9), 2)
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench-scale``: semantic dedup and index building at 1M and 4M vectors, and export
shuffle planning at 10M rows, on Spark ``local[2]``, as JSON: wall time, peak RSS of the
driver and of the largest task, and duplicates found against those planted.

    .venv/bin/python -m bench.scale [--sizes 1000000,4000000] [--rows 10000000] [--out FILE]

Vectors: 256-d, drawn around 2,000 random centres (clustered), in parts of 100,000, with
1,000 near-copies planted in other parts than their originals. Each measured command runs
in its own process (``curate ...`` through ``jobs.cli``), which reports its own peak RSS
(VmHWM); tasks record theirs in their done markers.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import emit

REPO = Path(__file__).resolve().parent.parent
PART = 100_000
DIM = 256
PLANTED = 1_000

RUN = """
import json, sys
from jobs import cli
rc = cli.main(sys.argv[1:])
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"rc": rc, "driver_peak_rss_mb": round(peak / 1024, 1)}))
"""


def make_embeddings(folder: Path, n: int, seed: int = 0) -> dict:
    """Clustered unit vectors in clip-retrieval's layout; returns planted (copy -> original) keys."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    (folder / "img_emb").mkdir(parents=True)
    (folder / "metadata").mkdir()
    part_size = min(PART, max(1, n // 10))
    parts = -(-n // part_size)
    planted_n = min(PLANTED, part_size // 4)
    originals = rng.choice(part_size, planted_n, replace=False)  # in part 0
    original_vectors = None
    planted = {}
    for p in range(parts):
        size = min(part_size, n - p * part_size)
        v = centres[rng.integers(0, len(centres), size)] + 0.6 * rng.normal(size=(size, DIM)).astype(np.float32)
        if p == 0:
            original_vectors = v[originals].copy()
        else:
            # Part p takes the copies j with j % (parts - 1) == p - 1, at rows j // (parts - 1).
            for j in range(p - 1, planted_n, parts - 1):
                row = j // (parts - 1)
                v[row] = original_vectors[j] + 1e-3 * rng.normal(size=DIM)
                planted[f"p{p}-{row}"] = f"p0-{originals[j]}"
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        np.save(folder / "img_emb" / f"img_emb_{p}.npy", v.astype(np.float16))
        keys = [f"p{p}-{i}" for i in range(size)]
        pq.write_table(pa.table({"key": keys, "url": pa.nulls(size, pa.string()), "text": pa.nulls(size, pa.string()),
                                 "similarity": pa.nulls(size, pa.float32())}),
                       folder / "metadata" / f"metadata_{p}.parquet")
    return planted


def curate(*args: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=7200)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"curate {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - start, 1)
    return result


def task_peak(folder: Path) -> float:
    peaks = [json.loads(p.read_text()).get("worker_peak_rss_mb") or 0 for p in folder.rglob("_done/*.json")]
    return max(peaks, default=0.0)


def bench_dedup_index(n: int, work: Path, with_index: bool, local: bool = False) -> dict:
    emb = work / f"emb-{n}"
    start = time.perf_counter()
    planted = make_embeddings(emb, n)
    generate_s = time.perf_counter() - start
    keep = work / f"keep-{n}"
    where = ["--executor", "local"] if local else ["--executor", "spark", "--master", "local[2]", "--conf",
                                                   "spark.ui.enabled=false"]
    dedup = curate("dedup", "--embeddings", str(emb), "--out", str(keep), "--threshold", "0.99",
                   "--cluster-size", "2000", *where)
    table = pq.read_table(keep, columns=["key", "reason", "duplicate_of"])
    found = {k: d for k, r, d in zip(*(table[c].to_pylist() for c in ("key", "reason", "duplicate_of")))
             if r == "near_duplicate"}
    result = {"vectors": n, "generate_s": round(generate_s, 1),
              "dedup": {**dedup, "largest_task_peak_rss_mb": task_peak(keep), "planted": len(planted),
                        "planted_found": sum(1 for k, o in planted.items() if found.get(k) == o),
                        "duplicates_found": len(found)}}
    if with_index:
        index = curate("index", "--embeddings", str(emb), "--out", str(work / f"index-{n}"), "--memory-mb", "64",
                       *where)
        result["index"] = {**index, "largest_task_peak_rss_mb": task_peak(work / f"index-{n}"),
                           **json.loads((work / f"index-{n}" / "infos.json").read_text())}
    return result


def bench_shuffle(rows: int, work: Path) -> dict:
    """Export shuffle planning only: the Spark sort and the per-tar plan files."""
    pool = work / "rows"
    pool.mkdir()
    per = 1_000_000
    for i in range(-(-rows // per)):
        size = min(per, rows - i * per)
        pq.write_table(pa.table({"key": [f"r{i}-{j}" for j in range(size)]}), pool / f"{i:05d}.parquet")
    code = """
import json, sys, time
from jobs.spark import SparkExecutor, get_spark
from curation.export.run import shuffle_plan
from curation.export.plan import shard_rows
from curation.core.io import list_files
spark = SparkExecutor(get_spark("local[2]", "bench shuffle", {"spark.ui.enabled": "false",
                                                              "spark.driver.memory": "4g"}))
shards = list_files(sys.argv[1], (".parquet",))
total = sum(shard_rows(s) for s in shards)
start = time.perf_counter()
tars = shuffle_plan(spark, shards, total, 10000, 0, sys.argv[2])
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"rows": total, "tars": len(tars), "seconds": round(seconds, 1),
                  "driver_peak_rss_mb": round(peak / 1024, 1)}))
"""
    done = subprocess.run([sys.executable, "-c", code, str(pool), str(work / "shuffled")], capture_output=True,
                          text=True, cwd=REPO, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"shuffle failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000000,4000000")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--index-up-to", type=int, default=1_000_000,
                    help="build the index only at sizes up to this (IVF training is slow on 2 cores)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--local", action="store_true", help="run the stages on the local executor (no Spark)")
    args = ap.parse_args(argv)
    result: dict = {}
    try:
        import torch

        result["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        result["device"] = "cpu"
    import faiss

    result["faiss_gpus"] = faiss.get_num_gpus()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        result["dedup_index"] = [bench_dedup_index(int(n), work, int(n) <= args.index_up_to, args.local)
                                  for n in args.sizes.split(",")]
        if args.rows:
            result["export_shuffle"] = bench_shuffle(args.rows, work)
    sizes = result["dedup_index"]
    if len(sizes) > 1:
        result["driver_rss_growth"] = {
            stage: round(sizes[-1][stage]["driver_peak_rss_mb"] / sizes[0][stage]["driver_peak_rss_mb"], 2)
            for stage in ("dedup", "index") if stage in sizes[0] and stage in sizes[-1]}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

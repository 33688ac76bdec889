"""``make bench``: matcher, index, count/balance and huge-text numbers, printed and written as
JSON (the whole command end to end is ``bench.e2e``).

    .venv/bin/python -m bench.run [--out .bench/results.json]

Single-core numbers are taken with the process pinned to one CPU; the two engines run on
the same texts in the same process, so their ratio is what counts.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import emit
from bench.inputs import describe, ensure_inputs

REPO = Path(__file__).resolve().parent.parent
BATCH = 50_000


def pin_one_core() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def bench_matcher(entries: list[str], texts: pa.Array, index_path: Path) -> tuple[dict, list]:
    from curation.matching import AhoCorasickMatcher, Matcher

    matcher, build_s = timed(Matcher, entries)
    matcher.save(str(index_path))
    matcher = Matcher.load(str(index_path))
    matcher.match_arrow(texts.slice(0, 1000))  # compile / load the kernel first
    batches = [texts.slice(i, BATCH) for i in range(0, len(texts), BATCH)]
    ours, ours_s = timed(lambda: [matcher.match_arrow(b) for b in batches])
    py_texts = texts.to_pylist()
    ac, ac_build_s = timed(AhoCorasickMatcher, entries)
    theirs, ac_s = timed(ac.match_batch, py_texts)
    ours_lists = [ids for b in ours for ids in b.to_pylist()]
    mismatches = sum(1 for a, b in zip(ours_lists, theirs) if a != b)
    n = len(texts)
    return {
        "texts": n,
        "ours_texts_per_s": round(n / ours_s),
        "pyahocorasick_texts_per_s": round(n / ac_s),
        "speedup": round(ac_s / ours_s, 2),
        "identical_results": mismatches == 0,
        "mismatched_texts": mismatches,
        "mean_matches_per_text": round(sum(len(x) for x in ours_lists) / n, 2),
        "build_s": round(build_s, 2),
        "pyahocorasick_build_s": round(ac_build_s, 2),
        "index_mb": round(index_path.stat().st_size / 2**20, 1),
    }, ours


def bench_load(index_path: Path) -> dict:
    """Load time and peak RSS of a fresh worker that maps the index and matches a shard."""
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's over fork+exec.
    code = ("import time, sys, pyarrow.parquet as pq\n"
            "from curation.matching import Matcher\n"
            "t = time.perf_counter(); m = Matcher.load(sys.argv[1]); load = time.perf_counter() - t\n"
            "texts = pq.read_table(sys.argv[2])['text']; m.match_arrow(texts)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "print(load, hwm)\n")
    shard = sorted((REPO / ".bench" / "pool").glob("*.parquet"))[0]
    out = subprocess.run([sys.executable, "-c", code, str(index_path), str(shard)], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split()
    return {"load_s": round(float(out[0]), 3), "worker_peak_rss_mb": round(int(out[1]) / 1024, 1)}


def bench_count_balance(matched: list[pa.Array], n_entries: int) -> dict:
    from curation.chain.balancing import entry_probabilities, keep_mask
    from curation.chain.counting import add_sparse, sparse_counts

    rows = sum(len(m) for m in matched)
    counts = np.zeros(n_entries, dtype=np.int64)

    def count_all():
        for m in matched:
            add_sparse(counts, *sparse_counts(m))

    sparse_counts(matched[0].slice(0, 10))  # compile first
    _, count_s = timed(count_all)
    p = entry_probabilities(counts, 1000)
    keys = [pa.array([f"t{i}" for i in range(len(m))]) for m in matched]
    keep_mask(keys[0].slice(0, 10), matched[0].slice(0, 10), p, 0)
    _, balance_s = timed(lambda: [keep_mask(k, m, p, 0) for k, m in zip(keys, matched)])
    return {"count_texts_per_s": round(rows / count_s), "balance_texts_per_s": round(rows / balance_s)}


def bench_long_texts(matcher, texts: pa.Array) -> dict:
    """One huge match-heavy text (real sentences joined until 2 MB and 10 MB): the time must
    grow about linearly with the length."""
    pieces = [t for t in texts.to_pylist()[:200_000] if t]
    out = {}
    for mb in (2, 10):
        chosen, size = [], 0
        for text in pieces * (1 + (mb << 20) // max(1, sum(map(len, pieces)))):
            chosen.append(text)
            size += len(text) + 1
            if size >= mb << 20:
                break
        big = pa.array([" ".join(chosen)], pa.large_string())
        result, seconds = timed(matcher.match_arrow, big)
        out[f"{mb}mb"] = {"seconds": round(seconds, 3), "distinct_matches": len(result[0])}
    out["ratio_10_to_2"] = round(out["10mb"]["seconds"] / max(out["2mb"]["seconds"], 1e-9), 2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(REPO / ".bench" / "results.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("CURATION_CACHE", str(REPO / ".bench" / "cache"))
    paths = ensure_inputs(REPO / ".bench")
    entries = json.loads(paths["metadata"].read_text(encoding="utf-8"))
    table = pq.read_table(paths["texts"])
    # Matcher numbers on real sentences only (WordNet's glosses): generated word sequences
    # flatter the token table. The per-language cases are in bench.matchers.
    real = table.filter(pc.equal(table["source"], "wordnet"))["text"].combine_chunks()
    results = {"inputs": describe(paths), "machine": {"cpus": os.cpu_count()}}
    # The whole command, end to end, on both executors: bench.e2e (real texts only).
    pin_one_core()
    matcher, matched = bench_matcher(entries, real, REPO / ".bench" / "index.idx")
    results["matcher_one_core"] = matcher
    # The first fresh worker may compile the kernels into numba's cache; later ones only map.
    first = bench_load(REPO / ".bench" / "index.idx")
    results["matcher_index"] = {**bench_load(REPO / ".bench" / "index.idx"),
                                "first_worker_peak_rss_mb": first["worker_peak_rss_mb"]}
    results["count_balance_one_core"] = bench_count_balance(matched, len(entries))
    from curation.matching import Matcher

    results["long_texts_one_core"] = bench_long_texts(Matcher.load(str(REPO / ".bench" / "index.idx")), real)
    emit(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

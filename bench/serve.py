"""``make bench`` explorer case: `curate serve` on a large run (``bench.e2e``'s pool: real
WordNet texts, cycled, in 100k-row shards; the 500k-entry bench list; ``--unit text``).

    python -m bench.serve [--rows 10000000] [--out .bench/serve.json]

Measured through the application (Flask's test client, no network): the search page for 50
substring queries, and the entry page for 50 entries drawn at random among the matched ones
(most of them tail entries, whose texts are far apart in the shards) and for the 10 largest;
the median and 90th percentile of each, in ms, and the memory the application added to the
process (VmRSS after the requests less VmRSS before the application was made).
"""

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from bench import emit
from bench.e2e import WORK, run_curate, write_pool
from bench.inputs import ensure_inputs, wordnet_texts


def _rss_mb() -> float:
    return round(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024,
                 1)


def timed(client, paths: list[str]) -> dict:
    seconds = []
    for path in paths:
        start = time.perf_counter()
        assert client.get(path).status_code == 200, path
        seconds.append(time.perf_counter() - start)
    return {"requests": len(paths), "median_ms": round(1000 * float(np.median(seconds)), 1),
            "p90_ms": round(1000 * float(np.percentile(seconds, 90)), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from curation.report.serve import make_app

    inputs = ensure_inputs(WORK.parent)
    pool = write_pool(WORK / f"pool-{args.rows}", wordnet_texts(), args.rows)
    run = WORK / f"serve-run-{args.rows}"
    if not (run / "datacard.json").exists():
        run_curate(pool, Path(inputs["metadata"]), run, "local")
    rss_before = _rss_mb()
    start = time.perf_counter()
    app = make_app(str(run))
    client = app.test_client()
    client.get("/entries")
    load_s = time.perf_counter() - start
    card = json.loads((run / "datacard.json").read_text())
    from curation.core.io import read_parquet

    counts = read_parquet(str(run / "entry_counts.parquet"))["count"].to_numpy()
    matched = np.flatnonzero(counts > 0)
    rng = random.Random(0)
    words = ["dog", "water", "red", "music", "tree", "house", "light", "black", "small", "wood"]
    result = {"rows": card["pool_rows"], "entries": int(len(counts)), "entries_matched": int(len(matched)),
              "startup_s": round(load_s, 2),
              "search": timed(client, [f"/entries?q={rng.choice(words)}{rng.choice(['', 's', 'ing'])}&page="
                                       f"{rng.randrange(3)}" for _ in range(50)]),
              "entry_random": timed(client, [f"/entry/{int(i)}" for i in rng.sample(list(matched), 50)]),
              "entry_largest": timed(client, [f"/entry/{int(i)}" for i in np.argsort(-counts)[:10]])}
    result["process_rss_mb"] = _rss_mb()
    result["server_rss_mb"] = round(result["process_rss_mb"] - rss_before, 1)  # what the application added
    emit({"serve": result}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Golden runs: the bundled sample pool with the shipped metadata list gives the same curated
rows, shard by shard, as the code gave before the execution layer was rebuilt (the files
under ``tests/data/golden`` were written by commit c73a736), on both executors."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs import cli

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "golden"
RUNS = {
    "sample-t100-seed0-image": ["--t", "100", "--seed", "0"],
    "sample-t50-seed3-text-v1": ["--t", "50", "--seed", "3", "--unit", "text", "--variant", "metaclip-v1"],
}


def curated_rows(out: Path) -> list[str]:
    return [f"{f.stem}\t{key}" for f in sorted((out / "curated").glob("*.parquet"))
            for key in pq.read_table(f, columns=["key"])["key"].to_pylist()]


@pytest.mark.parametrize("executor_name", ["local", "spark"])
@pytest.mark.parametrize("name", sorted(RUNS))
def test_sample_run_gives_the_golden_curated_rows(request, tmp_path, name, executor_name):
    if executor_name == "spark":
        request.getfixturevalue("spark")
    out = tmp_path / "run"
    assert cli.main(["curate", "--pool", str(REPO / "sample" / "pool"), "--metadata",
                     str(REPO / "metadata" / "default" / "metadata.json"), "--out", str(out), *RUNS[name],
                     "--executor", executor_name]) == 0
    want = (GOLDEN / f"{name}.tsv").read_text().splitlines()
    assert len(want) > 2000
    assert curated_rows(out) == want

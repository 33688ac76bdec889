"""The two executors give the same outputs: ``--executor local`` runs the chain, export and
ingest in a process where pyspark cannot be imported and no ``java`` is on PATH (the driver,
its fork server and its workers alike), and matches ``--executor spark`` row for row."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.core.executor import LocalExecutor, Step
from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool
from tests.jobs.test_export import png
from tests.jobs.test_ingest import make_inputs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def no_jvm(tmp_path_factory):
    """An environment with no java on PATH and a pyspark that refuses to import."""
    root = tmp_path_factory.mktemp("nojvm")
    (root / "blocked" / "pyspark").mkdir(parents=True)
    (root / "blocked" / "pyspark" / "__init__.py").write_text("raise ImportError('pyspark is blocked here')\n")
    (root / "bin").mkdir()
    (root / "bin" / "git").symlink_to(shutil.which("git"))  # the code version in the data cards
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME", "PYSPARK_PYTHON")}
    env.update(PATH=str(root / "bin"), PYTHONPATH=f"{root / 'blocked'}{os.pathsep}{REPO}", CURATE_EXECUTOR="local")
    return env


def curate_local(env, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "jobs.cli", *args, "--executor", "local", "--workers", "2"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    return done


def tables(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))}


def assert_same_tables(a: Path, b: Path) -> None:
    left, right = tables(a), tables(b)
    assert sorted(left) == sorted(right) and left
    for name in left:
        assert left[name].equals(right[name]), name


def card(folder: Path) -> dict:
    body = json.loads((folder / "datacard.json").read_text())
    body.pop("timings_s")
    return body


def test_blocked_environment_has_no_java_and_no_pyspark(no_jvm):
    code = "import shutil, sys\ntry:\n    import pyspark\nexcept ImportError:\n    print(shutil.which('java'))\n"
    done = subprocess.run([sys.executable, "-c", code], env=no_jvm, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "None"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    rows = [{**r, "key": f"img{i % 170}", "image": png(("red", "green", "blue")[i % 3], (6 + i % 4, 5)),
             "quality": (i % 5) / 4}
            for i, r in enumerate(make_rows(420, seed=11))]  # several alt-texts per image
    return write_pool(root / "pool", rows, shards=5), write_metadata(root / "m.json", ["dog", "cat", "hot dog",
                                                                                        "photo", "red", "猫"])


def test_chain_is_the_same_on_both_executors(spark, no_jvm, pool, tmp_path):
    pool_dir, meta = pool
    args = ["curate", "--pool", str(pool_dir), "--metadata", str(meta), "--t", "20", "--seed", "4",
            "--min-quality", "0.7"]
    curate_local(no_jvm, *args, "--out", str(tmp_path / "local"))
    assert cli.main([*args, "--out", str(tmp_path / "spark"), "--executor", "spark"]) == 0
    for folder in ("matched", "min_quality", "curated"):
        assert_same_tables(tmp_path / "local" / folder, tmp_path / "spark" / folder)
    assert pq.read_table(tmp_path / "local" / "entry_counts.parquet").equals(
        pq.read_table(tmp_path / "spark" / "entry_counts.parquet"))
    local, on_spark = card(tmp_path / "local"), card(tmp_path / "spark")
    assert (local.pop("executor"), on_spark.pop("executor")) == ("local", "spark")
    assert local == on_spark and local["curated_rows"] > 0 and local["balance_input_images"] < local["matched_rows"]
    assert 0 < local["low_quality_rows"] < local["matched_rows"]


def test_export_is_the_same_on_both_executors(spark, no_jvm, pool, tmp_path):
    pool_dir, meta = pool
    run = tmp_path / "run"
    curate_local(no_jvm, "curate", "--pool", str(pool_dir), "--metadata", str(meta), "--t", "20", "--out", str(run))
    for seed in ("7", None):
        shuffle = ["--shuffle-seed", seed] if seed else []
        args = ["export", "--curated", str(run), "--samples-per-tar", "9", *shuffle]
        curate_local(no_jvm, *args, "--out", str(tmp_path / f"local{seed}"))
        assert cli.main([*args, "--out", str(tmp_path / f"spark{seed}"), "--executor", "spark"]) == 0
        local, on_spark = tmp_path / f"local{seed}", tmp_path / f"spark{seed}"
        assert (local / "sizes.json").read_text() == (on_spark / "sizes.json").read_text()
        assert_same_tables(local, on_spark)  # the per-tar status tables, and the shuffle plans
        names = sorted(p.name for p in local.glob("*.tar"))
        assert names == sorted(p.name for p in on_spark.glob("*.tar")) and len(names) > 2
        for name in names:
            with tarfile.open(local / name) as a, tarfile.open(on_spark / name) as b:
                assert [(m.name, a.extractfile(m).read()) for m in a] == [(m.name, b.extractfile(m).read()) for m in b]


def test_ingest_is_the_same_on_both_executors(spark, no_jvm, tmp_path):
    inputs = make_inputs(tmp_path)
    curate_local(no_jvm, "ingest", "--input", str(inputs), "--out", str(tmp_path / "local"), "--shards", "2")
    assert cli.main(["ingest", "--input", str(inputs), "--out", str(tmp_path / "spark"), "--shards", "2",
                     "--executor", "spark"]) == 0
    assert_same_tables(tmp_path / "local", tmp_path / "spark")
    stats = [json.loads((tmp_path / f / "ingest_stats.json").read_text()) for f in ("local", "spark")]
    assert stats[0]["pairs_after_dedup"] == stats[1]["pairs_after_dedup"] > 0


def test_spark_settings_are_refused_for_the_local_executor(tmp_path, caplog):
    args = ["match", "--pool", str(tmp_path), "--metadata", str(tmp_path / "m.json"), "--out", str(tmp_path / "o"),
            "--executor", "local"]
    assert cli.main([*args, "--master", "local[2]"]) == 2
    assert cli.main([*args, "--conf", "spark.ui.enabled=false"]) == 2
    assert "do not apply to --executor local" in caplog.text
    assert cli.main([*args[:-1], "spark", "--workers", "3"]) == 2
    assert "--workers sets the local executor's processes" in caplog.text


def _flaky(marker_dir: str, item: int) -> int:
    marker = Path(marker_dir) / f"{item}"
    if item % 2 and not marker.exists():
        marker.touch()
        raise RuntimeError(f"first try of {item} fails")
    return item * item


def _die_once(marker_dir: str, item: int) -> int:
    marker = Path(marker_dir) / f"{item}"
    if item == 3 and not marker.exists():
        marker.touch()
        os._exit(9)  # the worker process dies
    return item + 1


def _always_fails(item: int) -> int:
    raise ValueError(f"item {item} is bad")


def _pairs(item: int) -> list:
    return [(item % 3, item), (item % 3, -item)]


def _sum_partition(index: int, pairs: list) -> list:
    return [(index, sum(v for _, v in pairs) + len(pairs))]


def test_local_executor_retries_failed_tasks_and_dead_workers(tmp_path):
    with LocalExecutor(workers=2, retries=2) as local:
        assert local.map(partial_of(_flaky, tmp_path / "a"), list(range(6))) == [i * i for i in range(6)]
        assert local.map(partial_of(_die_once, tmp_path / "b"), list(range(6))) == [i + 1 for i in range(6)]
        with pytest.raises(RuntimeError, match=r"^task [01] failed 3 times; last error: ValueError: item [01] is bad"):
            local.map(_always_fails, [0, 1])
        # Every partition runs, empty ones included, and the steps chain.
        out = local.shuffle(list(range(7)), _pairs, [Step(5, _sum_partition)])
        assert sorted(out) == [(0, 6), (1, 4), (2, 4), (3, 0), (4, 0)]


def partial_of(fn, folder: Path):
    from functools import partial

    folder.mkdir()
    return partial(fn, str(folder))

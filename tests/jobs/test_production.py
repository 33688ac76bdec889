"""Production behaviour: a standalone Spark cluster with S3 on loopback, resume after the
driver is killed, retried task failures, secrets kept out of outputs and logs, YAML
configs and ``curate status``."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
from curation.chain.run import run_balance, run_count, run_match
from curation.core.storage import StorageOptions
from jobs import cli
from jobs.package import build_zip
from tests.helpers import make_rows, write_metadata, write_pool
from tests.services import SPARK_HOME

REPO = Path(__file__).resolve().parents[2]
KEY, SECRET = "AKIACURATIONTESTKEY7", "s3cr3t-Curation-Test-Secret-Value"


def curated_keys_local(out: Path) -> set[str]:
    return {r["key"] for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()}


def curate_local(spark_executor, pool: Path, metadata: Path, out: Path, t=30, seed=0) -> dict:
    run_match(spark_executor, MatchConfig(pool=str(pool), metadata=str(metadata), out=str(out)))
    run_count(spark_executor, CountConfig(out=str(out)))
    return run_balance(spark_executor, BalanceConfig(out=str(out), t=t, seed=seed))


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    return write_metadata(tmp_path_factory.mktemp("meta") / "metadata.json", ["dog", "cat", "hot dog", "photo",
                                                                              "logo", "red", "car", "猫"])


@pytest.mark.slow
def test_cluster_with_s3_equals_local_and_keeps_secrets(spark_executor, spark_cluster, s3_server, tmp_path, metadata):
    import s3fs

    pool = write_pool(tmp_path / "pool", make_rows(800, seed=5), shards=4)
    reference = curate_local(spark_executor, pool, metadata, tmp_path / "local")
    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=s3_server.endpoint)
    fs.mkdir("runs")
    fs.put(str(pool), "runs/pool", recursive=True)
    fs.put(str(metadata), "runs/metadata.json")
    env = {**spark_cluster.env, **s3_server.env(KEY, SECRET), "PYSPARK_PYTHON": sys.executable}
    cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", spark_cluster.url, "--py-files",
           str(build_zip(tmp_path / "curation.zip")), "--conf", f"spark.pyspark.python={sys.executable}",
           "--conf", "spark.ui.enabled=false", str(REPO / "jobs" / "curate.py"), "--executor", "spark", "--pool", "s3://runs/pool",
           "--metadata", "s3://runs/metadata.json", "--out", "s3://runs/out", "--t", "30"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    card = json.loads(fs.cat("runs/out/datacard.json"))
    assert card["curated_rows"] == reference["curated_rows"] and card["pool_rows"] == 800
    keys = {r["key"] for f in fs.glob("runs/out/curated/*.parquet")
            for r in pq.read_table(f, filesystem=fs).to_pylist()}
    assert keys == curated_keys_local(tmp_path / "local")
    local_counts = pq.read_table(tmp_path / "local" / "entry_counts.parquet")["count"].to_pylist()
    assert pq.read_table("runs/out/entry_counts.parquet", filesystem=fs)["count"].to_pylist() == local_counts
    # No credential in any output object, in the job's console output or in the cluster's logs.
    blobs = [fs.cat(path) for path in fs.find("runs/out")]
    for secret in (KEY, SECRET):
        assert not any(secret.encode() in blob for blob in blobs)
        assert secret not in proc.stdout + proc.stderr
        assert secret not in spark_cluster.logs_text()


def test_storage_options_never_show_secrets():
    options = StorageOptions(endpoint_url="http://127.0.0.1:9", key=KEY, secret=SECRET, region="eu-west-1")
    assert KEY not in repr(options) and SECRET not in str(options) and "127.0.0.1:9" in repr(options)
    assert options.s3_kwargs()["secret"] == SECRET


def test_killed_driver_resumes_without_redoing_done_shards(spark_executor, tmp_path, metadata):
    rows = make_rows(1200, seed=6)
    pool = write_pool(tmp_path / "pool", rows, shards=12)
    out = tmp_path / "out"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "CURATION_FAULTS": "delay:match:0.4"}
    cmd = [sys.executable, "-m", "jobs.cli", "curate", "--pool", str(pool), "--metadata", str(metadata), "--out",
           str(out), "--t", "30", "--executor", "spark", "--master", "local[1]", "--conf", "spark.ui.enabled=false"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    done_dir = out / "matched" / "_done"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(done_dir.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in done_dir.glob("*.json")}
    assert 3 <= len(before) < 12
    # A killed writer leaves at most hidden temporaries: every final name is a whole shard.
    finals = [p for p in (out / "matched").iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
    assert {f"{name[:-5]}.parquet" for name in before} <= {p.name for p in finals}
    for path in finals:
        assert path.suffix == ".parquet" and "entry_ids" in pq.read_table(path).column_names
    stats = run_match(spark_executor, MatchConfig(pool=str(pool), metadata=str(metadata), out=str(out))).stats
    assert sorted(s["shard"] for s in stats if s["skipped"]) == sorted(n[:-5] for n in before)
    assert {p.name: p.stat().st_mtime_ns for p in done_dir.glob("*.json") if p.name in before} == before
    run_count(spark_executor, CountConfig(out=str(out)))
    run_balance(spark_executor, BalanceConfig(out=str(out), t=30, seed=0))
    curate_local(spark_executor, pool, metadata, tmp_path / "uninterrupted")
    assert curated_keys_local(out) == curated_keys_local(tmp_path / "uninterrupted")
    for name in sorted(p.name for p in (tmp_path / "uninterrupted" / "matched").glob("*.parquet")):
        uninterrupted = pq.read_table(tmp_path / "uninterrupted" / "matched" / name)
        assert pq.read_table(out / "matched" / name).equals(uninterrupted)


def test_task_failing_once_is_retried_with_unchanged_output(spark_executor, tmp_path, metadata, monkeypatch):
    pool = write_pool(tmp_path / "pool", make_rows(300, seed=7), shards=3)
    curate_local(spark_executor, pool, metadata, tmp_path / "clean")
    monkeypatch.setenv("CURATION_FAULTS", f"fail-once:match:00001:{tmp_path / 'faults'};fail-once:balance:00002:"
                                          f"{tmp_path / 'faults'}")
    curate_local(spark_executor, pool, metadata, tmp_path / "retried")
    assert sorted(p.name for p in (tmp_path / "faults").iterdir()) == ["failed-balance-00002", "failed-match-00001"]
    assert curated_keys_local(tmp_path / "retried") == curated_keys_local(tmp_path / "clean")


def test_yaml_config_with_flag_overrides_and_status(spark_executor, tmp_path, metadata, capsys):
    pool = write_pool(tmp_path / "pool", make_rows(200, seed=8), shards=2)
    config = tmp_path / "run.yaml"
    config.write_text(f"match:\n  pool: {pool}\n  metadata: {metadata}\nbalance:\n  t: 5\n  seed: 3\n"
                      f"out: {tmp_path / 'out'}\nexecutor: spark\nspark:\n  conf:\n    spark.ui.enabled: false\n")
    assert cli.main(["curate", "--config", str(config), "--seed", "4"]) == 0
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    assert (card["t"], card["seed"]) == (5.0, 4)
    capsys.readouterr()
    assert cli.main(["status", "--out", str(tmp_path / "out")]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["match"]["shards_done"] == status["match"]["shards_total"] == 2
    assert status["match"]["rows_done"] == 200 and status["balance"]["complete"] and status["datacard"]
    (tmp_path / "out" / "curated" / "_done" / "00001.json").unlink()
    assert cli.main(["status", "--out", str(tmp_path / "out")]) == 0
    assert json.loads(capsys.readouterr().out)["balance"]["missing"] == ["00001"]
    config.write_text("pool: x\nbogus: 1\n")
    assert cli.main(["curate", "--config", str(config), "--metadata", "m", "--out", "o"]) == 2

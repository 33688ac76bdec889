"""The driver JVM's class archive (``jobs.jvm``): dumped by a first Spark run, used only once
whole, and a damaged one never stops a run."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from jobs.jvm import OPTION, ClassArchive, driver_options
from tests.helpers import make_rows, write_metadata, write_pool

REPO = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dump_is_used_only_after_its_jvm_ended(tmp_path):
    archive = ClassArchive(str(tmp_path))
    assert "-XX:ArchiveClassesAtExit=" in archive.options() and not archive.usable()
    part = Path(archive.part)
    part.write_bytes(b"x" * 1000)
    Path(f"{part}.pid").write_text(str(os.getpid()))  # still running: left alone
    again = ClassArchive(str(tmp_path))
    assert "-XX:ArchiveClassesAtExit=" in again.options() and part.exists() and not again.usable()
    Path(f"{part}.pid").write_text(str(dead_pid()))  # ended: moved into place, size recorded
    third = ClassArchive(str(tmp_path))
    assert third.options().startswith(f"-XX:SharedArchiveFile={third.final} ")
    assert third.usable() and not part.exists() and not Path(f"{part}.pid").exists()
    assert json.loads(Path(third.final + ".json").read_text()) == {"bytes": 1000}
    with open(third.final, "r+b") as f:  # cut short afterwards: not used
        f.truncate(500)
    assert not ClassArchive(str(tmp_path)).usable()
    stray = Path(f"{third.final}.abc.part.pid")  # a dump that never began, its JVM gone: cleaned up
    stray.write_text(str(dead_pid()))
    ClassArchive(str(tmp_path)).promote()
    assert not stray.exists()


def test_options_given_by_the_user_win(tmp_path):
    archive = ClassArchive(str(tmp_path))
    assert driver_options({OPTION: "-Xmx2g"}, archive) == {OPTION: "-Xmx2g"} and archive.part is None
    assert driver_options({}, None) == {OPTION: "-XX:TieredStopAtLevel=1"}


def wait_until_ended(folder: Path, timeout: float = 120) -> None:
    """Until every JVM that dumps into ``folder`` has ended (its archive is then whole)."""
    deadline = time.monotonic() + timeout
    for pid_file in folder.glob("*.part.pid"):
        pid = int(pid_file.read_text())
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)


def test_spark_runs_dump_use_and_survive_a_damaged_archive(tmp_path):
    pool = write_pool(tmp_path / "pool", make_rows(60, seed=5), shards=2)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "photo"])
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {**os.environ, "CURATION_CACHE": str(cache), "CURATION_SPARK_CDS": "1", "PYSPARK_PYTHON": sys.executable}

    def run(name: str) -> tuple[str, list]:
        out = tmp_path / name
        cmd = [sys.executable, "-m", "jobs.cli", "curate", "--pool", str(pool), "--metadata", str(meta),
               "--out", str(out), "--t", "5", "--executor", "spark", "--master", "local[2]",
               "--conf", "spark.ui.enabled=false"]
        proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = sorted(r["key"] for f in sorted((out / "curated").glob("*.parquet")) for r in
                      pq.read_table(f).to_pylist())
        return proc.stdout + proc.stderr, rows

    _, first = run("first")  # no archive yet: this run's JVM dumps one when it exits
    wait_until_ended(cache)
    assert list(cache.glob("spark-*.jsa.*.part"))
    _, second = run("second")  # moves the dump into place and maps it
    archive = next(cache.glob("spark-*.jsa"))
    assert ClassArchive(str(cache)).usable() and second == first
    wait_until_ended(cache)
    # A damaged archive (cut short, its record edited to match) makes the JVM die at start:
    # the run starts it again without, says so, and the archive is gone.
    size = archive.stat().st_size // 2
    os.chmod(archive, 0o600)
    with open(archive, "r+b") as f:
        f.truncate(size)
    (cache / f"{archive.name}.json").write_text(json.dumps({"bytes": size}))
    log, third = run("third")
    assert third == first and "did not start with its class archive" in log
    assert not archive.exists() or archive.stat().st_size != size
    assert not list(REPO.glob("hs_err_pid*.log")) and not list(tmp_path.glob("hs_err_pid*.log"))

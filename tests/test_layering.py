"""Layering, as README's "Layout" states it: ``curation/`` never imports pyspark, ``jobs`` or
``metadata``; ``metadata/`` uses ``curation`` and never ``jobs`` or pyspark; ``jobs/`` holds the
CLI and the Spark wiring only; and the commands that need no Spark run where pyspark cannot be
imported."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_rows, write_metadata, write_pool

REPO = Path(__file__).resolve().parents[1]
# A Python that cannot import pyspark (as on a machine without it), running the curate CLI.
NO_SPARK = ("import sys; sys.modules['pyspark'] = None; from jobs.cli import main; "
            "sys.exit(main(sys.argv[1:]))")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple) -> dict:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files
    found = {str(f.relative_to(REPO)): sorted(m for m in imported_modules(f) if m.split(".")[0] in forbidden)
             for f in files}
    return {f: m for f, m in found.items() if m}


def test_curation_never_imports_pyspark_jobs_or_metadata():
    assert len(list((REPO / "curation").rglob("*.py"))) > 30
    assert offenders("curation", ("pyspark", "jobs", "metadata")) == {}


def test_metadata_uses_curation_but_never_jobs_or_pyspark():
    assert offenders("metadata", ("pyspark", "jobs")) == {}


def test_jobs_is_the_cli_and_the_spark_wiring_only():
    # The CLI, the Spark executor and SparkSession, the driver JVM's start-up options, the Spark
    # n-gram job, the metadata tools' command functions, the zip for --py-files, and the
    # spark-submit entry points.
    modules = {f.stem for f in (REPO / "jobs").glob("*.py")}
    assert modules == {"__init__", "cli", "common", "spark", "jvm", "ngrams", "metadata_cli", "package", "match",
                       "count", "balance", "curate"}
    assert not list((REPO / "jobs").glob("*/"))  # no subpackages
    for shim in ("match", "count", "balance", "curate"):
        assert imported_modules(REPO / "jobs" / f"{shim}.py") <= {"sys", "pathlib", "jobs.cli"}


def test_curation_folders_show_the_architecture():
    folders = {p.name for p in (REPO / "curation").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"core", "matching", "chain", "export", "report", "ingest", "quality", "gpu"}
    top = {p.stem for p in (REPO / "curation").glob("*.py")}
    assert top == {"__init__", "registry", "balancing"}  # balancing: DESIGN's public import path
    # The core knows no stage: it imports nothing from the other folders.
    assert offenders("curation/core", ()) == {}
    core_imports = {m for f in (REPO / "curation" / "core").glob("*.py") for m in imported_modules(f)
                    if m.startswith("curation.") and not m.startswith("curation.core")}
    # Sparse counts (the executors sum them) and the registry (the runner's generic command).
    assert core_imports <= {"curation.chain.counting", "curation.registry"}, core_imports


def test_every_curation_module_imports_without_pyspark():
    modules = sorted(".".join(f.relative_to(REPO).with_suffix("").parts) for f in (REPO / "curation").rglob("*.py")
                     if f.name != "__init__.py")
    code = "import sys, importlib; sys.modules['pyspark'] = None\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in modules) + "import jobs.cli; jobs.cli.build_parser()\n" \
        "print(sorted(m for m in sys.modules if m.startswith('jobs')))\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.replace("'", '"')) == ["jobs", "jobs.cli"]


def run_without_spark(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_SPARK, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def run_folder(executor, tmp_path_factory):
    from jobs import cli

    tmp = tmp_path_factory.mktemp("nospark")
    pool = write_pool(tmp / "pool", make_rows(60), shards=2)
    meta = write_metadata(tmp / "m.json", ["dog", "cat", "photo"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp / "out"),
                     "--t", "5"]) == 0
    return tmp


def test_commands_without_spark_run_where_pyspark_is_absent(run_folder):
    stats = run_without_spark("metadata", "stats", str(run_folder / "m.json"))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["entries"] == 3
    status = run_without_spark("status", "--out", str(run_folder / "out"))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["balance"]["complete"]
    (run_folder / "out" / "report.html").unlink()
    report = run_without_spark("report", "--out", str(run_folder / "out"))
    assert report.returncode == 0, report.stderr
    assert (run_folder / "out" / "report.html").exists()
    # A Spark command says what is missing instead of a traceback deep inside.
    match = run_without_spark("match", "--pool", "p", "--metadata", "m", "--out", "o", "--executor", "spark")
    assert match.returncode == 2 and "pyspark is not installed" in match.stderr and "Traceback" not in match.stderr


def test_gpu_commands_need_no_ingest_or_spark_packages():
    """``curate embed|index|knn|dedup|train`` on a GPU machine with only the GPU packages:
    building the command line must not import pyspark, or ingest's readers and language id."""
    code = ("import sys\nfor m in ('pyspark', 'selectolax', 'warcio', 'fastwarc', 'isal', 'py3langid', 'protego'):\n"
            "    sys.modules[m] = None\nimport jobs.cli\njobs.cli.build_parser()\n"
            "import curation.gpu.run, curation.gpu.embed\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr

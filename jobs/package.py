"""Build the zip that ``spark-submit --py-files`` ships to executors: the project's pure
Python packages (``curation``, ``jobs``, ``metadata`` with its default list).

    python -m jobs.package [build/curation-VERSION.zip]

Executors also need the compiled dependencies of ``requirements.txt`` (pyarrow, numpy,
numba, pyahocorasick, fsspec/s3fs): a Python that has them, named by
``spark.pyspark.python`` (e.g. the same virtualenv path on every node, or the docker image).
"""

import sys
import zipfile
from pathlib import Path

from curation import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("curation", "jobs", "metadata")


def build_zip(out: Path | None = None) -> Path:
    out = out or ROOT / "build" / f"curation-{__version__}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in PACKAGES:
            for path in sorted((ROOT / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json", ".txt"):
                    zf.write(path, path.relative_to(ROOT).as_posix())
    tmp.replace(out)
    return out


if __name__ == "__main__":
    sys.stdout.write(f"{build_zip(Path(sys.argv[1]) if len(sys.argv) > 1 else None)}\n")

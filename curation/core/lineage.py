"""Lineage recorded in every output: the code version. The parameters that made an output
are its configs' lineage fields (``curation.core.config.lineage``)."""

import subprocess
from functools import lru_cache
from pathlib import Path

from curation import __version__


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__

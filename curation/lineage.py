"""Lineage recorded in every output: code version and the parameters that made it."""

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


def match_params(metadata_sha256: str, variant: str, text_column: str) -> dict:
    """Parameters that a matched shard depends on; shards made with others are not mixed."""
    return {"metadata_sha256": metadata_sha256, "variant": variant, "text_column": text_column}


def balance_params(match: dict, t: float, seed: int, unit: str = "text", image_column: str = "key") -> dict:
    """Parameters of balanced shards: the upstream ones, t, seed, and the unit of decision."""
    params = {**match, "t": t, "seed": seed, "unit": unit}
    if unit == "image":
        params["image_column"] = image_column
    return params

"""Benchmarks (``make bench``): inputs are generated once into ``.bench/``."""


def emit(result: dict, out: str | None) -> None:
    """Print a benchmark's JSON result, and write it to ``out`` when given."""
    import json
    import sys
    from pathlib import Path

    text = json.dumps(result, indent=2) + "\n"
    sys.stdout.write(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)

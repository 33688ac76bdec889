"""`spark-submit jobs/balance.py ARGS`: the same as `curate balance ARGS`."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.cli import main as _cli_main  # noqa: E402


def main(argv=None) -> int:
    return _cli_main(["balance", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

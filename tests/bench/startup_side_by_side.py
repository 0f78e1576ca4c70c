"""Two installs of aaae side by side: ``aaae --help`` and a cold ``aaae sample -n 64 out.png``, interleaved.

Written for the package move of issue 24 (modules into sub-packages must not slow the first screen nor the first
sample): give the ``bin/`` folders of two virtual environments, each with one tree installed editable, e.g.

    git worktree add --detach ../old <commit>; python -m venv ../venv-old; ...; pip install -e ../old --no-deps
    python tests/bench/startup_side_by_side.py --old ../venv-old/bin --new .venv/bin --repeats 15

Each run is a fresh process (the imports are what moved); the two installs alternate, so load on the machine
falls on both alike, and each goes first in every other pair. Prints the median and the quartiles of each, and
the ratio new/old.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

COMMANDS = {"aaae --help": ["--help"], "aaae sample -n 64 out.png": ["sample", "-n", "64", "out.png", "--seed", "0"]}


def _time(aaae: Path, args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(aaae), *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="bin/ of the environment with the old tree")
    parser.add_argument("--new", type=Path, required=True, help="bin/ of the environment with the new tree")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, repeats {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in COMMANDS.items():
            times: dict[str, list[float]] = {"old": [], "new": []}
            for side in ("old", "new"):  # warm the file cache once each
                _time(getattr(args, side) / "aaae", command, Path(tmp))
            for repeat in range(args.repeats):
                for side in ("old", "new") if repeat % 2 else ("new", "old"):  # neither always runs first
                    times[side].append(_time(getattr(args, side) / "aaae", command, Path(tmp)))
            for side, values in times.items():
                q1, median, q3 = statistics.quantiles(values, n=4)
                print(f"{name:28s} {side}: median {median:.3f} s (quartiles {q1:.3f}-{q3:.3f})")
            ratio = statistics.median(times["new"]) / statistics.median(times["old"])
            print(f"{name:28s} new/old: {ratio:.3f}")


if __name__ == "__main__":
    main()

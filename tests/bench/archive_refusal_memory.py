"""Peak memory and time of refusing a lying dataset archive (issue #23 item 8).

The archive is the issue's case: three real 128x128 RGB images and a deflated manifest that lists 10 million (about
220 KB in all, the images being random; read as listed, 458 GiB). It is given to ``python -m aaae_train.archive``
and ``aaae train``, each in a fresh process; the peak resident memory of that process and its wall time are printed.

    python tests/bench/archive_refusal_memory.py [--claimed 10000000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEASURE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(r.stderr.strip()[-300:])"
)


def measured(command: list[str]) -> tuple[int, float, float, str]:
    """(exit code, peak RSS in MB, seconds, the end of stderr) of ``command`` in a fresh process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    first, _, said = result.stdout.partition("\n")
    code, peak_kb = first.split()
    return int(code), int(peak_kb) / 1024, seconds, said.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claimed", type=int, default=10_000_000, help="images the manifest lists")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: the tests' archive builders
    from tests.hostile_archives import good_archive, lying_manifest

    assert resource  # the measuring child uses it; imported here so a platform without it fails at once
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        good = good_archive(root, {"resolution": 128, "channels": 3, "crop": 1.0, "align": "none"})
        lying = lying_manifest(good, root / "lying.zip", args.claimed)
        print(f"{lying.name}: {lying.stat().st_size / 1024:.0f} KB, claims {args.claimed} images of 128x128x3")
        commands = {
            "python -m aaae_train.archive": [sys.executable, "-m", "aaae_train.archive", str(lying), "-o",
                                             str(root / "out.zip"), "--cache-dir", str(root / "c")],
            "aaae train": [sys.executable, "-m", "aaae_cli", "train", str(lying), "--out", str(root / "run"),
                           "--cache-dir", str(root / "c"), "--no-progress"],
        }  # fmt: skip
        for name, command in commands.items():
            code, peak, seconds, said = measured(command)
            print(f"{name}: exit {code}, peak RSS {peak:.0f} MB, {seconds:.1f} s; {said}")


if __name__ == "__main__":
    main()

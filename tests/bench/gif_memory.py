"""Peak memory of the largest GIF ``aaae interpolate`` writes (issue 23 item 9; target: under 1 GB).

A GIF is capped like a grid (``aaae_cli.cli._output.check_gif_size``: at most 2^26 pixels summed over its frames).
This runs ``aaae interpolate`` at that cap in a fresh process and reports its peak resident memory
(``ru_maxrss`` of the child), its time and the GIF's size.

    python tests/bench/gif_memory.py                        # faces, 64 steps at zoom 16 (64 x 1024^2 pixels)
    python tests/bench/gif_memory.py --steps 32 --zoom 8
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"


def measure(model: str, steps: int, zoom: int, out: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "aaae_cli", "interpolate", str(DATA / "astronaut.jpg")]
    command += [str(DATA / "grace_hopper.jpg"), "--steps", str(steps), "--zoom", str(zoom), "-o", str(out)]
    command += ["--model", model, "--device", "cpu"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "command": " ".join(["aaae", *command[3:]]),
        "exit": result.returncode,
        "message": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "",
        "peak_mb": round(peak_mb),
        "seconds": round(seconds, 1),
        "gif_mb": round(out.stat().st_size / 1e6, 1) if out.exists() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--zoom", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(measure(args.model, args.steps, args.zoom, Path(folder) / "morph.gif"), indent=1))


if __name__ == "__main__":
    main()

"""Peak memory of reading the worst legal input images (issue #13 item 15; target: under 500 MB).

Each image is just under the 100-megapixel limit and is read by ``load_image`` in a fresh process; the
process's peak resident memory (``ru_maxrss``) is reported next to its memory after the imports, so the
difference is what reading the image took.

    python tests/bench/image_memory.py              # all cases, at 64x64 RGB
    python tests/bench/image_memory.py --keep DIR   # keep the generated images in DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

SIDE_16, SIDE_8 = 9400, 9000  # 88.4 and 81 megapixels

_MEASURE = """
import json, resource, sys
from aaae_cli.images import load_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
load_image(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_mb": before / 1024, "peak_mb": after / 1024}))
"""


def make_cases(folder: Path) -> dict[str, Path]:
    """The worst legal inputs, written with fast compression (their content does not matter)."""
    cases: dict[str, Path] = {}
    ramp = (np.arange(SIDE_16, dtype=np.uint32) * 7 % 65536).astype(np.uint16)
    cases["16-bit gray PNG 9400^2"] = folder / "gray16.png"
    Image.fromarray(np.broadcast_to(ramp, (SIDE_16, SIDE_16)).copy()).save(
        cases["16-bit gray PNG 9400^2"], compress_level=1
    )
    rgb = np.zeros((SIDE_8, SIDE_8, 3), np.uint8)
    rgb[:, :, 0] = np.arange(SIDE_8, dtype=np.uint32) % 256
    cases["8-bit RGB PNG 9000^2"] = folder / "rgb.png"
    Image.fromarray(rgb).save(cases["8-bit RGB PNG 9000^2"], compress_level=1)
    cases["8-bit RGBA PNG 9000^2"] = folder / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.full((SIDE_8, SIDE_8), 128, np.uint8)])).save(
        cases["8-bit RGBA PNG 9000^2"], compress_level=1
    )
    del rgb
    cases["palette PNG 9000^2"] = folder / "palette.png"
    Image.fromarray((np.arange(SIDE_8, dtype=np.uint32) % 256).astype(np.uint8)[None].repeat(SIDE_8, 0), "L").convert(
        "P"
    ).save(cases["palette PNG 9000^2"], compress_level=1)
    return cases


def measure(path: Path, resolution: int, channels: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(resolution), str(channels)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--make", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:  # in a child process: Linux carries a parent's peak memory into the children it forks
        print(json.dumps({name: str(path) for name, path in make_cases(args.make).items()}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([sys.executable, __file__, "--make", str(folder)], capture_output=True, text=True)
        for name, path in json.loads(made.stdout).items():
            path = Path(path)
            result = measure(path, args.resolution, args.channels)
            print(
                f"{name:26s} {path.stat().st_size / 1e6:7.1f} MB file  peak {result['peak_mb']:7.0f} MB "
                f"(after imports {result['before_mb']:4.0f} MB)"
            )


if __name__ == "__main__":
    main()

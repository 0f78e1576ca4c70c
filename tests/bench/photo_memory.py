"""Peak memory and time of ``aaae faces``/``edit``/``reconstruct`` on crowds and the largest legal photos (issue #23).

Each photo is made in a child process (Linux carries a parent's peak memory into the children it forks), then
every command runs in a fresh process under a small wrapper that reports the command's own peak resident memory
(``ru_maxrss`` of its children) and its wall time. The photos:

* ``crowd-100``: 1280x1280 PNG tiled with the public-domain astronaut's face (tests/data) at 128 px: 100 faces;
* ``crowd-1024``: the same at 40 px, 1,024 faces, a ~150 KB PNG (the red team's hostile upload);
* ``88MP.jpg``: 10880x8096 JPEG, the astronaut enlarged to the photo's height on grey;
* ``float.tif``: a 42 MB float32 grayscale TIFF (3240x3240) of the astronaut;
* ``88MP-float.tif``: 9400x9400 float32 (353 MB of values, deflated);
* ``88MP-rgba.png``: 10880x8096 RGBA, alpha falling from opaque to clear down the photo.

    python tests/bench/photo_memory.py                  # every case
    python tests/bench/photo_memory.py --only crowd     # cases whose name contains 'crowd'
    python tests/bench/photo_memory.py --keep DIR       # keep the photos (and outputs) in DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"

_MEASURED = (
    "import json, resource, subprocess, sys, time; t = time.monotonic(); "
    "r = subprocess.run([sys.executable, '-m', 'aaae_cli', *sys.argv[1:]], capture_output=True, text=True); "
    "print(json.dumps({'code': r.returncode, 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss "
    "/ 1024, 'seconds': time.monotonic() - t, 'out': r.stdout[-300:], 'err': r.stderr[-300:]}))"
)


def make_photos(folder: Path) -> dict[str, str]:
    """The bench's photos, written into ``folder`` (run in a child process)."""
    import numpy as np
    from PIL import Image

    paths: dict[str, str] = {}
    face = Image.open(DATA / "astronaut-face.jpg").convert("RGB")
    for name, tile in (("crowd-100", 128), ("crowd-1024", 40)):
        small = face.resize((tile, tile), Image.Resampling.LANCZOS)
        photo = Image.new("RGB", (1280, 1280))
        for y in range(0, 1280, tile):
            for x in range(0, 1280, tile):
                photo.paste(small, (x, y))
        paths[name] = str(folder / f"{name}.png")
        photo.save(paths[name], optimize=True)
    portrait = Image.open(DATA / "astronaut.jpg").convert("RGB")
    big = Image.new("RGB", (10880, 8096), (128, 128, 128))
    big.paste(portrait.resize((8096, 8096), Image.Resampling.BILINEAR), ((10880 - 8096) // 2, 0))
    paths["88MP.jpg"] = str(folder / "88MP.jpg")
    big.save(paths["88MP.jpg"], quality=85)
    del big
    gray = np.asarray(portrait.convert("L").resize((3240, 3240), Image.Resampling.BILINEAR), np.float32) / 255.0
    paths["float.tif"] = str(folder / "float.tif")
    Image.fromarray(gray, "F").save(paths["float.tif"])
    # 88 MP of float32 (353 MB of values), deflated: the astronaut enlarged 18.8 times, nearest neighbour.
    small = np.asarray(portrait.convert("L").resize((500, 500), Image.Resampling.BILINEAR), np.float32) / 255.0
    paths["88MP-float.tif"] = str(folder / "88MP-float.tif")
    Image.fromarray(np.kron(small, np.ones((19, 19), np.float32))[:9400, :9400], "F").save(
        paths["88MP-float.tif"], compression="tiff_deflate"
    )
    # 88 MP RGBA, alpha falling from opaque (top) to clear (bottom): most pixels semi-transparent.
    rgba = Image.new("RGBA", (10880, 8096), (128, 128, 128, 255))
    rgba.paste(portrait.resize((8096, 8096), Image.Resampling.BILINEAR), ((10880 - 8096) // 2, 0))
    ramp = np.clip(np.linspace(400, -40, 8096), 0, 255).astype(np.uint8)
    rgba.putalpha(Image.fromarray(np.repeat(ramp[:, None], 10880, axis=1), "L"))
    paths["88MP-rgba.png"] = str(folder / "88MP-rgba.png")
    rgba.save(paths["88MP-rgba.png"], compress_level=1)
    return paths


CASES = [
    ("crowd-100", "faces"),
    ("crowd-100", "edit"),
    ("crowd-1024", "faces"),
    ("88MP.jpg", "faces"),
    ("88MP.jpg", "edit"),
    ("88MP.jpg", "reconstruct"),
    ("float.tif", "faces"),
    ("float.tif", "edit"),
    ("float.tif", "reconstruct"),
    ("88MP-float.tif", "faces"),
    ("88MP-float.tif", "edit"),
    ("88MP-rgba.png", "faces"),
    ("88MP-rgba.png", "edit"),
]


def command(kind: str, photo: str, out: Path) -> list[str]:
    if kind == "faces":
        return ["faces", photo]
    if kind == "edit":
        suffix = ".jpg" if photo.endswith((".jpg", ".tif")) else ".png"
        return ["edit", photo, "--attr", "smiling", "-o", str(out / f"edited{suffix}"), "--overwrite"]
    return ["reconstruct", photo, "-o", str(out / "reconstructed.png"), "--overwrite"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run only the cases whose photo or command contains this")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--make", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        print(json.dumps(make_photos(args.make)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        listing = folder / "photos.json"  # photos kept (--keep) by an earlier run are used again
        if not listing.exists():
            made = subprocess.run([sys.executable, __file__, "--make", str(folder)], capture_output=True, text=True)
            listing.write_text(made.stdout)
        paths = json.loads(listing.read_text())
        for photo, kind in CASES:
            if args.only not in f"{photo} {kind}":
                continue
            cmd = command(kind, paths[photo], folder)
            done = subprocess.run([sys.executable, "-c", _MEASURED, *cmd], capture_output=True, text=True)
            result = json.loads(done.stdout)
            size = Path(paths[photo]).stat().st_size / 1e6
            note = "" if result["code"] == 0 else f"  exit {result['code']}: {result['err'].strip()[-160:]}"
            print(
                f"aaae {kind:12s} {photo:14s} ({size:5.1f} MB)  peak {result['peak_mb']:6.0f} MB  "
                f"{result['seconds']:6.1f} s{note}",
                flush=True,
            )


if __name__ == "__main__":
    main()

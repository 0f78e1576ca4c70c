"""Cold ``aaae edit photo.jpg --attr male -o out.jpg`` on a 1-megapixel photo, as a fresh process each time.

    python tests/bench/photo_edit_speed.py [--model faces] [--repeats 9]

The photo is the public-domain astronaut portrait enlarged to 1000x1000 (JPEG, quality 92). Each run starts a
new Python process (imports, opening and verifying the bundle, the detector's three sessions, finding and
aligning the face, encoding, decoding, warping the change back, writing the JPEG). One warm-up run first (disk
cache), then ``--repeats`` runs; median, fastest and slowest. Also times each stage inside one process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "tests" / "data" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--side", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        Image.open(PORTRAIT).resize((args.side, args.side), Image.Resampling.BICUBIC).save(photo, quality=92)
        command = [
            sys.executable,
            "-m",
            "aaae_cli",
            "edit",
            str(photo),
            "--attr",
            "male",
            "-o",
            str(Path(tmp) / "o.jpg"),
        ]
        command += ["--model", args.model]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        times = []
        for run in range(args.repeats + 1):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            if run:
                times.append(time.perf_counter() - start)
        stages = _stages(photo, args.model)
    result = {
        "command": "aaae edit photo.jpg --attr male -o out.jpg --model " + args.model,
        "photo": f"{args.side}x{args.side} JPEG",
        "median_s": round(statistics.median(times), 3),
        "fastest_s": round(min(times), 3),
        "slowest_s": round(max(times), 3),
        "runs": len(times),
        "stages_s": stages,
        "cpus": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result, indent=1))


def _stages(photo: Path, model: str) -> dict[str, float]:
    """Each stage timed inside one fresh process."""
    script = f"""
import json, time
t = time.perf_counter(); marks = {{}}
def mark(name):
    global t
    now = time.perf_counter(); marks[name] = round(now - t, 3); t = now
import aaae_cli as aaae
from aaae_cli.photos.edit import edit_pixels
from aaae_cli.photos.io import photo_to_pil, save_photo
mark("imports")
net = aaae.load({model!r}, device="cpu")
net.attributes
mark("open bundle")
photo = net.load_photo({str(photo)!r})
mark("read photo")
frames = net.frames(photo, every=True)
mark("find and align faces (detector sessions included)")
net.graph("encoder"); net.graph("decoder")
mark("encoder and decoder sessions")
pixels = edit_pixels(net, photo, frames, {{"Male": 1.0}})[0]
mark("encode, decode, warp the change back")
save_photo(photo_to_pil(photo, pixels), {str(photo.with_name("s.jpg"))!r}, photo)
mark("write JPEG")
print(json.dumps(marks))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()

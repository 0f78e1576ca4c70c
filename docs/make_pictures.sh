#!/usr/bin/env bash
# The pictures of the README and docs/*.md, made by the shipped models with the commands printed beside them.
# Run from the repository root after `pip install .`. Only public-domain and CC BY-SA inputs (tests/data).
set -euo pipefail
cd "$(dirname "$0")/.."
export AAAE_MODEL=""
rm -f docs/*.png docs/*.gif docs/*.jpg
aaae sample -n 64 docs/faces.png --seed 0
aaae sample --model digits -n 64 docs/digits.png --seed 0
aaae sample -n 1 --seed 1 docs/face-1.png
aaae sample -n 1 --seed 6 docs/face-6.png
aaae sample -n 1 --seed 21 docs/face-21.png
# Your own photos: the two public-domain portraits, whole, edited at their own resolution
aaae edit tests/data/astronaut.jpg --attr male -o docs/astronaut-male.jpg
aaae edit tests/data/astronaut.jpg --attr smiling=-1 -o docs/astronaut-serious.jpg
aaae edit tests/data/astronaut.jpg --attr blond_hair -o docs/astronaut-blond.jpg
aaae edit tests/data/astronaut.jpg --attr eyeglasses --keep male -o docs/astronaut-glasses.jpg
aaae edit tests/data/grace_hopper.jpg --attr smiling -o docs/hopper-smiling.jpg
aaae edit tests/data/grace_hopper.jpg --attr young --keep eyeglasses,male -o docs/hopper-young.jpg
aaae edit tests/data/grace_hopper.jpg --attr black_hair -o docs/hopper-black-hair.jpg
aaae edit tests/data/grace_hopper.jpg --attr eyeglasses --keep male -o docs/hopper-glasses.jpg
aaae edit tests/data/astronaut.jpg --attr male --sweep 0:2:5 --compare -o docs/astronaut-male-sweep.png
aaae faces tests/data/grace_hopper.jpg -o docs/hopper-aligned.png
# A black-and-white photo and two people in one photo, made from the two public-domain portraits (made here, not
# found: no other public-domain group or black-and-white portrait is in the repository)
python scripts/closeups.py --make-inputs docs
aaae edit docs/hopper-bw.jpg --attr smiling -o docs/hopper-bw-smiling.jpg
aaae edit docs/hopper-bw.jpg --attr blond_hair -o docs/hopper-bw-blond.jpg
aaae edit docs/two-portraits.jpg --attr young -o docs/two-portraits-young.jpg
aaae edit docs/two-portraits.jpg --attr smiling -o docs/two-portraits-smiling.jpg
# Close-ups at the photo's own resolution: the face before, then each edit
python scripts/closeups.py docs/closeups-astronaut.png tests/data/astronaut.jpg docs/astronaut-blond.jpg \
  docs/astronaut-serious.jpg docs/astronaut-glasses.jpg
python scripts/closeups.py docs/closeups-hopper-bw.png docs/hopper-bw.jpg docs/hopper-bw-smiling.jpg \
  docs/hopper-bw-blond.jpg
# The model's own view: reconstruction and interpolation of the aligned faces, edits of its own samples
aaae reconstruct tests/data/astronaut.jpg tests/data/grace_hopper.jpg -o docs/reconstruct.png --zoom 2
aaae reconstruct tests/data/astronaut.jpg tests/data/grace_hopper.jpg --refine 0 -o docs/reconstruct-encoder.png --zoom 2
aaae interpolate tests/data/astronaut.jpg tests/data/grace_hopper.jpg --steps 8 --zoom 2 -o docs/interpolate.png
aaae interpolate tests/data/astronaut.jpg tests/data/grace_hopper.jpg --steps 24 --zoom 2 -o docs/interpolate.gif
aaae edit docs/face-6.png --attr smiling --sweep -1:1:5 --zoom 2 -o docs/edit-smiling.png
aaae edit docs/face-1.png --attr eyeglasses --sweep 0:1:3 --zoom 2 -o docs/edit-eyeglasses.png
aaae edit docs/face-1.png --attr male --sweep 0:1:3 --zoom 2 -o docs/edit-male.png
aaae edit docs/face-1.png --attr blond_hair --sweep 0:1:3 --zoom 2 -o docs/edit-blond.png
aaae edit docs/face-21.png --attr mustache --sweep 0:1:3 --zoom 2 -o docs/edit-mustache.png
aaae edit docs/face-21.png --attr bald --sweep 0:1:3 --zoom 2 -o docs/edit-bald.png
# The studio (pip install "aaae[studio]", playwright and Debian's chromium): its browser test takes the screenshot
AAAE_STUDIO_SCREENSHOT=docs/studio.png python -m pytest -q tests/test_studio_browser.py

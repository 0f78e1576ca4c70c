#!/usr/bin/env bash
# The README's pictures, made by the shipped models with the commands the README prints beside them.
# Run from the repository root after `pip install .`. Only public-domain and CC BY-SA inputs (tests/data).
set -euo pipefail
cd "$(dirname "$0")/.."
export AAAE_MODEL=""
rm -f docs/*.png docs/*.gif
aaae sample -n 64 docs/faces.png --seed 0
aaae sample --model digits -n 64 docs/digits.png --seed 0
aaae sample -n 1 --seed 1 docs/face-1.png
aaae sample -n 1 --seed 6 docs/face-6.png
aaae sample -n 1 --seed 21 docs/face-21.png
aaae reconstruct tests/data/astronaut-face.jpg -o docs/reconstruct.png --zoom 2
aaae interpolate tests/data/astronaut-face.jpg docs/face-1.png --steps 8 --zoom 2 -o docs/interpolate.png
aaae interpolate tests/data/astronaut-face.jpg docs/face-1.png --steps 24 --zoom 2 -o docs/interpolate.gif
aaae edit docs/face-6.png --attr smiling --sweep -1:1:5 --zoom 2 -o docs/edit-smiling.png
aaae edit docs/face-1.png --attr eyeglasses --sweep 0:1:3 --zoom 2 -o docs/edit-eyeglasses.png
aaae edit docs/face-1.png --attr male --sweep 0:1:3 --zoom 2 -o docs/edit-male.png
aaae edit docs/face-1.png --attr blond_hair --sweep 0:1:3 --zoom 2 -o docs/edit-blond.png
aaae edit docs/face-21.png --attr mustache --sweep 0:1:3 --zoom 2 -o docs/edit-mustache.png
aaae edit docs/face-21.png --attr bald --sweep 0:1:3 --zoom 2 -o docs/edit-bald.png
aaae edit tests/data/astronaut-face.jpg --attr smiling=-1 --compare --zoom 2 -o docs/edit-astronaut.png

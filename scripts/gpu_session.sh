#!/usr/bin/env bash
# One short GPU lease in one call: the CUDA checks, the training-throughput benchmark, then face models trained
# side by side on a prepared archive until the time budget is spent. Everything worth keeping lands in $OUT as at
# most 8 files of at most 15 MiB (a lent machine returns no more): session.log, throughput.jsonl and
# pack.tar.part-*, a split tar of the runs' slim checkpoints (aaae_train.checkpoint.slim_checkpoint), metrics,
# logs and last grids. Nothing is installed: the machine's own torch runs the source tree.
#
#   bash scripts/gpu_session.sh gpu-carry/faces-aligned.zip 560        # on the GPU machine, from the repo root
#   cat pack.tar.part-* | tar xf -                                     # back here: pack/a.pt, pack/b.pt, ...
#
# Environment: DEVICE (cuda), WIDTH (0.7), CODES ("a:128 b:256": run name:code size), APPROX_HIDDEN (512: the
# approximator's and latent critic's width), SKIP_BENCH, SKIP_TESTS. The next lease (tests/bench/faces_model.md, "What a
# next GPU lease should do"): CODES="a:256 b:512" APPROX_HIDDEN=1024.
set -u
ARCHIVE=${1:?usage: gpu_session.sh ARCHIVE [SECONDS]}
BUDGET=${2:-560}
OUT=${OUT:-/tmp/gpu-out}
DEVICE=${DEVICE:-cuda}
WIDTH=${WIDTH:-0.7}
CODES=${CODES:-"a:128 b:256"}
APPROX_HIDDEN=${APPROX_HIDDEN:-512}
T0=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - T0))); }
mkdir -p "$OUT" /tmp/pkgs /tmp/runs /tmp/pack
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
ln -sfn "$PWD/train" /tmp/pkgs/aaae_train && ln -sfn "$PWD/models" /tmp/pkgs/aaae_models
export PYTHONPATH="$PWD:/tmp/pkgs${PYTHONPATH:+:$PYTHONPATH}"
LOG=$OUT/session.log
say() { echo "[$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }

say "machine"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, onnx, onnxruntime; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__)"
  echo "cpus $(nproc)"; date -u
} >>"$LOG" 2>&1

if [ -z "${SKIP_BENCH:-}" ]; then
  say "throughput (paper width, 64x64x3)"
  timeout 150 python3 tests/bench/train_throughput.py --device "$DEVICE" --sizes 64x3 --batches 100,512 \
    --repeats 5 --iters 20 >"$OUT/throughput.jsonl" 2>>"$LOG"
  say "throughput exit $?"; cat "$OUT/throughput.jsonl" >>"$LOG"
fi

# The autoencoder phase gets what is left but 165 s (approximator 80 s, packing, margins).
AE_MIN=$(python3 -c "print(round(max(0.5, ($(left) - 165) / 60), 2))")
KILL_AFTER=$(($(left) - 45))
say "training $CODES at width $WIDTH: autoencoder $AE_MIN min, stop signal after $KILL_AFTER s"
for run in $CODES; do
  name=${run%%:*} codes=${run##*:}
  timeout -s INT "$KILL_AFTER" python3 -m aaae_cli train "$ARCHIVE" --out "/tmp/runs/$name" --width "$WIDTH" \
    --c-dim "$codes" --approx-hidden "$APPROX_HIDDEN" --hflip --lr 3e-4 --epochs 100000 --max-minutes "$AE_MIN" \
    --approx-steps 100000 \
    --approx-max-minutes 1.2 --snapshot-every 2000 --patience 0 --device "$DEVICE" --no-progress --workers 4 \
    --cache-dir "/tmp/cache-$name" >"/tmp/pack/train-$name.log" 2>&1 &
done

if [ -z "${SKIP_TESTS:-}" ]; then
  say "CUDA tests (train, resume, compile, export)"
  timeout 240 python3 -m pytest -q -m cuda tests/test_cuda.py -p no:cacheprovider >/tmp/pack/cuda-tests.log 2>&1
  say "CUDA tests exit $?"; tail -n 15 /tmp/pack/cuda-tests.log >>"$LOG"
fi

wait
say "training ended"
python3 - >>"$LOG" 2>&1 <<'EOF'
import shutil
from pathlib import Path

import torch

from aaae_train.checkpoint import load_checkpoint, slim_checkpoint

for run in sorted(Path("/tmp/runs").iterdir()):
    try:
        checkpoint = load_checkpoint(run / "best.pt")
        torch.save(slim_checkpoint(checkpoint), f"/tmp/pack/{run.name}.pt")
        print(run.name, checkpoint["state"])
    except Exception as exc:  # keep packing the others
        print(run.name, "no checkpoint:", exc)
    for keep in ("metrics.jsonl", "options.json"):
        if (run / keep).is_file():
            shutil.copy(run / keep, f"/tmp/pack/{run.name}-{keep}")
    for kind in ("samples", "reconstructions"):
        grids = sorted(run.glob(f"{kind}-*.png"))
        if grids:
            shutil.copy(grids[-1], f"/tmp/pack/{run.name}-{grids[-1].name}")
EOF
for name in /tmp/pack/train-*.log; do tail -n 5 "$name" >>"$LOG"; done
tar cf - -C /tmp pack | split -b 15m - "$OUT/pack.tar.part-"
ls -la "$OUT" >>"$LOG"
say "done"

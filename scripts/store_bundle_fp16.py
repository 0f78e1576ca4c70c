"""Store a float32 bundle's graph weights in float16, in place: half the bytes, the same interface.

    python scripts/store_bundle_fp16.py models/faces

For a bundle whose training checkpoint is gone (the shipped ``faces``); a run that still has its checkpoint is
exported with ``aaae export RUN OUT --weights fp16`` instead. The graphs are checked against their float32 selves
(aaae_train.half_weights.store_bundle_weights_fp16); what was lost on this very checkpoint is measured in
BENCHMARKS.md, "Half-precision weights".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aaae_cli.errors import UserError
from aaae_train.half_weights import store_bundle_weights_fp16


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="a bundle folder with float32 weights, rewritten in place")
    args = parser.parse_args(argv)
    before = sum(p.stat().st_size for p in args.bundle.glob("*.onnx"))
    try:
        diffs = store_bundle_weights_fp16(args.bundle)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    after = sum(p.stat().st_size for p in args.bundle.glob("*.onnx"))
    shown = ", ".join(f"{name} {diff:.2g}" for name, diff in diffs.items())
    print(f"{args.bundle}: graphs {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB; largest differences: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

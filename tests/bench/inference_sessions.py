"""onnxruntime session settings for a bundle: graph optimisation level and thread spinning.

    python tests/bench/inference_sessions.py BUNDLE [--repeats 5]

Each setting runs in a fresh process (as the CLI does): session creation time, the first call and the
median of later calls, for the encoder (1 image and 64 images) and the decoder (64 codes). Settings are
alternated, repeat after repeat, so they share the machine's state; medians are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
import numpy as np
import onnxruntime as ort
ort.set_default_logger_severity(3)
path, graph, level, spin, batch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
options = ort.SessionOptions()
options.graph_optimization_level = {"extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
options.add_session_config_entry("session.intra_op.allow_spinning", spin)
data = open(f"{path}/{graph}.onnx", "rb").read()
start = time.perf_counter()
session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
created = time.perf_counter() - start
shape = [batch, *[d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape[1:]]]
x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
name = session.get_inputs()[0].name
start = time.perf_counter()
session.run(None, {name: x})
first = time.perf_counter() - start
later = []
for _ in range(5):
    start = time.perf_counter()
    session.run(None, {name: x})
    later.append(time.perf_counter() - start)
print(json.dumps({"create": created, "first": first, "later": sorted(later)[2]}))
"""

CASES = [
    ("encoder", "extended", "0", 1),
    ("encoder", "all", "0", 1),
    ("encoder", "extended", "0", 64),
    ("encoder", "all", "0", 64),
    ("decoder", "all", "1", 64),
    ("decoder", "all", "0", 64),
    ("decoder", "extended", "0", 64),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {}
    for _ in range(args.repeats):
        for graph, level, spin, batch in CASES:
            command = [sys.executable, "-c", CHILD, args.bundle, graph, level, spin, str(batch)]
            result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            runs.setdefault(f"{graph} batch {batch}, optimise {level}, spinning {spin}", []).append(result)
    summary = {
        case: {key: round(statistics.median(r[key] for r in results), 4) for key in results[0]}
        for case, results in runs.items()
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""Per-image time of the shipped ONNX models: batch pinned to one image against the
symbolic batch the files are exported with.

For each model, the same random inputs (a 224 px crop for the classifier; a letterboxed
256 x 192 photo for the detector) run through two one-thread sessions: the baseline as
ONNX Runtime loads the file, and app.pipeline.onnx_session.cpu_session (batch pinned to
1). Prints the median milliseconds per image of each, their ratio, and the largest
difference between their outputs.

    .venv/bin/python benchmarks/onnx_sessions.py --runs 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.pipeline.onnx_session import cpu_session

MODELS = {
    "satwa-classifier.onnx": (1, 3, 224, 224),
    "satwa-detector.onnx": (1, 3, 256, 192),
}


def plain_session(weights: Path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(weights), options, providers=["CPUExecutionProvider"]
    )


def median_ms(session, inputs: list[np.ndarray]) -> float:
    name = session.get_inputs()[0].name
    for tensor in inputs[:5]:
        session.run(None, {name: tensor})
    times = []
    for tensor in inputs:
        started = time.perf_counter()
        session.run(None, {name: tensor})
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def largest_difference(first, second, inputs: list[np.ndarray]) -> float:
    name = first.get_inputs()[0].name
    return max(
        float(np.abs(a - b).max())
        for tensor in inputs[:20]
        for a, b in zip(
            first.run(None, {name: tensor}),
            second.run(None, {name: tensor}),
            strict=True,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--weights", type=Path, default=REPO_ROOT / "weights")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"ONNX Runtime {onnxruntime.__version__}, one thread, {args.runs} runs each")
    print(
        f"{'model':<24} {'baseline ms':>11} {'pinned ms':>10} {'ratio':>6} {'max diff':>9}"
    )
    for name, shape in MODELS.items():
        weights = args.weights / name
        inputs = [rng.random(shape, dtype=np.float32) for _ in range(args.runs)]
        baseline, pinned = plain_session(weights), cpu_session(weights, threads=1)
        # Alternate the two in rounds so that a busy moment hits both alike.
        rounds = 5
        chunk = max(1, len(inputs) // rounds)
        base_ms, pinned_ms = [], []
        for start in range(0, len(inputs), chunk):
            part = inputs[start : start + chunk]
            base_ms.append(median_ms(baseline, part))
            pinned_ms.append(median_ms(pinned, part))
        base, fast = statistics.median(base_ms), statistics.median(pinned_ms)
        difference = largest_difference(baseline, pinned, inputs)
        print(
            f"{name:<24} {base:>11.2f} {fast:>10.2f} {base / fast:>6.2f} "
            f"{difference:>9.1e}"
        )


if __name__ == "__main__":
    main()

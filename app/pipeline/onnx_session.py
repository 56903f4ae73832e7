"""ONNX Runtime sessions for one image at a time, on the CPU.

Satwa's models are exported with a symbolic batch dimension named ``batch``
(training/export.py; Ultralytics names the detector's the same), and the detector with
symbolic height and width. The service runs one image per call, so the batch is pinned
to 1 when the session is made: with every dimension that does not depend on the image
known, ONNX Runtime folds the shape arithmetic of the classifier's "same" padding into
its convolutions at load time. Same outputs bit for bit; 9.4 instead of 11.3 ms per
crop on one core (benchmarks/onnx_sessions.py). A file whose batch dimension has
another name still loads and runs, without the saving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BATCH_DIMENSION = "batch"
"""Name of the symbolic batch dimension of the exported models."""


def cpu_session(weights: Path, threads: int):
    """A session on ``weights`` with ``threads`` intra-op threads (0: ONNX Runtime's
    choice) and the batch dimension pinned to one image."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_free_dimension_override_by_name(BATCH_DIMENSION, 1)
    return onnxruntime.InferenceSession(
        str(weights), options, providers=["CPUExecutionProvider"]
    )


def run_each(session, batch: np.ndarray) -> list[np.ndarray]:
    """Run ``session`` on every image of ``batch`` (N, ...) one at a time and stack
    each output back to (N, ...)."""
    name = session.get_inputs()[0].name
    runs = [
        session.run(None, {name: batch[index : index + 1]})
        for index in range(len(batch))
    ]
    return [np.concatenate(outputs) for outputs in zip(*runs, strict=True)]

"""One-image ONNX Runtime sessions (app.pipeline.onnx_session)."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from app.pipeline.onnx_session import cpu_session, run_each
from tests.factories import REPO_ROOT

SHIPPED = ["satwa-detector.onnx", "satwa-classifier.onnx"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_get_their_batch_pinned_to_one(name):
    session = cpu_session(REPO_ROOT / "weights" / name, threads=1)

    assert session.get_inputs()[0].shape[0] == 1


def test_pinned_classifier_gives_the_plain_sessions_outputs_crop_by_crop():
    weights = REPO_ROOT / "weights/satwa-classifier.onnx"
    plain = onnxruntime.InferenceSession(
        str(weights), providers=["CPUExecutionProvider"]
    )
    crops = np.random.default_rng(3).normal(size=(3, 3, 224, 224)).astype(np.float32)

    pinned = run_each(cpu_session(weights, threads=1), crops)
    expected = plain.run(None, {"crops": crops})

    assert [output.shape for output in pinned] == [(3, 1280), (3, 1000)]
    for got, want in zip(pinned, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

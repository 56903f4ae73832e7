"""Export the trained detector for CPU serving (ONNX) beside the .pt."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

from training.offline import keep_ultralytics_offline

logger = logging.getLogger(__name__)


def export_onnx(weights_path: Path, imgsz: int) -> Path:
    """Write ``<weights>.onnx`` (raw head output, no NMS) next to ``weights_path``."""
    keep_ultralytics_offline()
    from ultralytics import YOLO

    with warnings.catch_warnings():
        # Ultralytics calls torch's TorchScript-based ONNX exporter, which warns
        # (deprecation, tracer warnings) from inside C++ callbacks; a warning raised
        # as an error there breaks the export. The export is checked in evaluate.py.
        warnings.simplefilter("ignore")
        exported = Path(
            YOLO(str(weights_path)).export(
                format="onnx",
                imgsz=imgsz,
                dynamic=False,
                simplify=True,
                nms=False,
                opset=17,
                device="cpu",
            )
        )
    target = weights_path.with_suffix(".onnx")
    if exported.resolve() != target.resolve():
        shutil.move(exported, target)
    logger.info("Exported %s", target)
    return target

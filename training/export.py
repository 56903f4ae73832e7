"""Export the trained models for CPU serving (ONNX): the detector beside its .pt, the
second stage beside its head file."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import torch

from app.offline_ultralytics import import_ultralytics_offline
from app.pipeline.classifier_head import HEAD_METADATA_KEY, ClassifierHead
from app.pipeline.classify import imagenet_readings
from app.pipeline.imagenet import INPUT_SIZE, load_imagenet_lite0
from app.pipeline.onnx_session import BATCH_DIMENSION

logger = logging.getLogger(__name__)


def export_onnx(weights_path: Path, imgsz: int) -> Path:
    """Write ``<weights>.onnx`` (raw head output, no NMS) next to ``weights_path``.

    Height and width are dynamic: the service letterboxes a photo to ``imgsz`` on its
    long side and pads the short side only to the model's stride, as Ultralytics'
    own predict does, which spares the work a square input spends on padding.
    """
    import_ultralytics_offline()
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
                dynamic=True,
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


CLASSIFIER_OPSET = 17


def export_classifier_onnx(head_path: Path, target: Path | None = None) -> Path:
    """Write the second stage for ONNX Runtime: EfficientNet-Lite0 (crops in, pooled
    features and ImageNet probabilities out) with the head in the metadata.

    ``target`` defaults to ``<head>.onnx`` beside the head file. The batch dimension
    is dynamic (all the crops of a photo go in one run).
    """
    import onnx

    head = ClassifierHead.read(head_path)
    network = ImagenetReadings(load_imagenet_lite0()).eval()
    target = target or head_path.with_suffix(".onnx")
    example = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            network,
            (example,),
            str(target),
            input_names=["crops"],
            output_names=["features", "imagenet"],
            dynamic_axes={
                name: {0: BATCH_DIMENSION} for name in ("crops", "features", "imagenet")
            },
            opset_version=CLASSIFIER_OPSET,
            dynamo=False,
        )
    model = onnx.load(str(target))
    entry = model.metadata_props.add()
    entry.key, entry.value = HEAD_METADATA_KEY, head.to_json()
    onnx.save(model, str(target))
    logger.info("Exported %s", target)
    return target


class ImagenetReadings(torch.nn.Module):
    """The network as the service runs it: crops -> (features, ImageNet softmax)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return imagenet_readings(self.model, crops)

"""Automatic boxes for photos that come only with a class folder, and their quality.

Method: class-activation maps (CAM) of the ImageNet EfficientNet-Lite0. The photo is
classified at ``CAM_INPUT_SIZE``; the map of the class the network finds most likely
is the last feature map weighted by that class's classifier row. It is upsampled,
thresholded at ``CAM_THRESHOLD`` of its maximum, and the box is the bounding box of the
largest connected region above the threshold, widened by ``CAM_MARGIN``. The quality is
measured as mean IoU against the real boxes of the two tiger sets
(``measure_box_quality``; ``python -m training.boxes``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from app.pipeline.imagenet import MEAN, STD, load_imagenet_lite0

logger = logging.getLogger(__name__)

CAM_INPUT_SIZE = 320
CAM_THRESHOLD = 0.3
CAM_MARGIN = 0.05
# Threshold and margin were looked at on every sixth frame of the tiger sets
# (TUNING_STRIDE); the reported IoU uses the other frames only.
# Limitation: on those frames threshold 0.15 without margin scored a mean IoU of 0.571
# against 0.532 for the values above, which the shipped model was trained with; the next
# training run should switch and re-measure.
TUNING_STRIDE = 6

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of width/height


@dataclass(frozen=True)
class BoxQuality:
    """Mean IoU of automatic boxes against real ones, beside a whole-frame box."""

    photos: int
    mean_iou: float
    whole_frame_mean_iou: float


def _to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    pixels = np.asarray(image.convert("RGB").resize((size, size)), dtype=np.float32)
    tensor = torch.from_numpy(pixels / 255.0).permute(2, 0, 1)
    mean = torch.tensor(MEAN)[:, None, None]
    std = torch.tensor(STD)[:, None, None]
    return (tensor - mean) / std


@torch.no_grad()
def activation_maps(images: Sequence[Image.Image]) -> np.ndarray:
    """CAMs of each photo's top ImageNet class, as (n, h, w) arrays scaled to [0, 1]."""
    model = load_imagenet_lite0()
    batch = torch.stack([_to_tensor(image, CAM_INPUT_SIZE) for image in images])
    features = model.forward_features(batch)
    logits = model.forward_head(features)
    top_class = logits.argmax(dim=1)
    weights = model.classifier.weight[top_class]
    maps = torch.einsum("nc,nchw->nhw", weights, features).clamp(min=0)
    peak = maps.flatten(1).max(dim=1).values.clamp(min=1e-6)
    return (maps / peak[:, None, None]).numpy()


def box_from_map(activation: np.ndarray, threshold: float = CAM_THRESHOLD) -> Box:
    """The widened bounding box of the largest region of ``activation`` over it."""
    upsampled = F.interpolate(
        torch.from_numpy(activation)[None, None], size=(64, 64), mode="bilinear"
    )[0, 0].numpy()
    regions, count = ndimage.label(upsampled >= threshold)
    if count == 0:
        return (0.0, 0.0, 1.0, 1.0)
    sizes = ndimage.sum_labels(np.ones_like(upsampled), regions, range(1, count + 1))
    rows, cols = np.nonzero(regions == int(np.argmax(sizes)) + 1)
    height, width = upsampled.shape
    box = (
        cols.min() / width,
        rows.min() / height,
        (cols.max() + 1) / width,
        (rows.max() + 1) / height,
    )
    return _widen(box, CAM_MARGIN)


def _widen(box: Box, margin: float) -> Box:
    x1, y1, x2, y2 = box
    return (
        max(0.0, x1 - margin),
        max(0.0, y1 - margin),
        min(1.0, x2 + margin),
        min(1.0, y2 + margin),
    )


def auto_boxes(paths: Sequence[Path], batch_size: int = 16) -> list[Box]:
    """One automatic box per photo, in fractions of the photo's width and height."""
    boxes: list[Box] = []
    for start in range(0, len(paths), batch_size):
        images = [Image.open(path) for path in paths[start : start + batch_size]]
        boxes.extend(box_from_map(activation) for activation in activation_maps(images))
    return boxes


def _area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(first: Box, second: Box) -> float:
    """Intersection over union of two boxes in the same units."""
    width = max(0.0, min(first[2], second[2]) - max(first[0], second[0]))
    height = max(0.0, min(first[3], second[3]) - max(first[1], second[1]))
    intersection = width * height
    union = _area(first) + _area(second) - intersection
    return intersection / union if union > 0 else 0.0


def read_yolo_box(label_path: Path) -> Box | None:
    """The first box of a YOLO label file as fractions (x1, y1, x2, y2)."""
    lines = label_path.read_text().split("\n")
    fields = lines[0].split() if lines else []
    if len(fields) < 5:
        return None
    cx, cy, w, h = (float(value) for value in fields[1:5])
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def measure_box_quality(pairs: Iterable[tuple[Path, Box]]) -> BoxQuality:
    """Mean IoU of ``auto_boxes`` against the given (photo path, real box) pairs."""
    pairs = list(pairs)
    predicted = auto_boxes([path for path, _ in pairs])
    ious = [iou(box, real) for box, (_, real) in zip(predicted, pairs)]
    whole = [iou((0.0, 0.0, 1.0, 1.0), real) for _, real in pairs]
    return BoxQuality(len(pairs), float(np.mean(ious)), float(np.mean(whole)))


def tiger_box_pairs(data_root: Path) -> list[tuple[Path, Box]]:
    """Tiger frames with real boxes, leaving out the frames used to tune the CAM."""
    pairs = []
    for folder in ("tiger_video_frames_yolo", "tiger_pose_ultralytics"):
        frames = sorted((data_root / folder / "images").rglob("*.jpg"))
        for number, path in enumerate(frames):
            label = (
                data_root / folder / "labels" / path.parent.name / f"{path.stem}.txt"
            )
            box = read_yolo_box(label) if label.exists() else None
            if box is not None and number % TUNING_STRIDE:
                pairs.append((path, box))
    return pairs


def main() -> None:
    """Measure CAM box quality on the tiger sets; write it beside the weights."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument(
        "--out", type=Path, default=Path("weights/satwa-detector.run/box_quality.json")
    )
    arguments = parser.parse_args()
    quality = measure_box_quality(tiger_box_pairs(arguments.data_root))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(quality.__dict__, indent=2))
    print(json.dumps(quality.__dict__))


if __name__ == "__main__":
    main()

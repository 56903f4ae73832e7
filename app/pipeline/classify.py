"""The second stage: classify each detection's crop with ImageNet EfficientNet-Lite0.

One 224 px forward per crop (the crops of a photo go in one batch) gives two readings:

- zero-shot: ImageNet softmax probabilities summed into the detector classes
  (taxonomy.yaml ``zero_shot``), plus finer ``refinements`` that only ImageNet knows
  (orangutan, gibbon, hornbill, Komodo dragon, cockatoo, teddy bear...);
- a linear head over the 1280 pooled features, fine-tuned on our class folders
  (training/classifier.py).

The network runs on ONNX Runtime from ``weights/satwa-classifier.onnx`` (the serving
default: no PyTorch in the service) or on PyTorch from the head file
``weights/satwa-classifier.pt`` (training and evaluation); the ONNX file is exported from
that head by training/export.py and carries it in its metadata.

The two are mixed, ``alpha * head + (1 - alpha) * zero_shot``, with ``alpha`` chosen on
the validation split, and the mix is renormalised over our classes: a class ImageNet
barely knows (owl, gecko, turkey) can still be sure. Whether the crop shows an animal at
all is asked of ImageNet separately: its 398 animal classes together (``animal_mass``).

When the second stage overrides the detector (:meth:`CropClassifier.refine`):

- a refinement replaces the detector's label when the crop's class is the refinement's
  parent and its ImageNet score is at least ``REFINEMENT_MIN_SCORE``; a look-alike
  refinement (a plush toy) replaces any label at ``LOOKALIKE_MIN_SCORE``;
- a different class replaces the detector's when the classifier is sure (at least
  ``OVERRIDE_MIN_PROBABILITY``) and the detector is not very sure (below
  ``DETECTOR_UNSURE_BELOW``): the detector finds the animal, the classifier, which
  names classes better on crops, names it;
- a photo without detections gets one whole-photo detection when the classifier is sure
  and ImageNet sees an animal in it (``WHOLE_PHOTO_MIN_ANIMAL_MASS``).

Every other detection keeps its label and ``stage="detector"``. The head file carries
the resolved ImageNet groups, so a model file always classifies the way it was measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from app.errors import ConfigurationError
from app.pipeline.detect import Box, Detection, ModelInfo
from app.pipeline.imagenet import INPUT_SIZE, MEAN, STD

logger = logging.getLogger(__name__)

HEAD_FORMAT = "satwa-classifier/1"
"""Format tag inside the head file; a file with another tag is refused."""

HEAD_METADATA_KEY = "satwa_head"
"""ONNX metadata entry holding the head (JSON) in an exported classifier."""

CROP_MARGIN = 0.1
"""Context added around a box on each side, as a share of its longer side."""

REFINEMENT_MIN_SCORE = 0.5
"""ImageNet probability of a refinement's classes at which it replaces its parent."""

LOOKALIKE_MIN_SCORE = 0.6
"""Score at which a look-alike refinement (a toy) replaces any label. Higher than
``REFINEMENT_MIN_SCORE`` because it clears a photo rather than flagging it."""

OVERRIDE_MIN_PROBABILITY = 0.7
"""Classifier probability needed to replace the detector's class. Chosen on the
validation split with early detector checkpoints (training/override_trials.py): at 0.7
the classifier turned 234 and 159 wrong top labels right and 0 and 1 right ones wrong;
at 0.8, 188 and 132 right, none wrong."""

DETECTOR_UNSURE_BELOW = 0.9
"""Detector confidence under which its class may be replaced: a label the detector gives
at 0.9 or more stands (a safety valve for a stronger detector; on the validation split
it cost 7 of 241 and 29 of 188 good relabels, and saved 0 and 1 bad ones)."""

WHOLE_PHOTO_MIN_PROBABILITY = 0.6
"""Classifier probability needed to label a photo where the detector found nothing."""

WHOLE_PHOTO_MIN_ANIMAL_MASS = 0.5
"""ImageNet probability of its animal classes together needed for that whole-photo
label: a photo of a cage, a price list or a person must not get an animal from the head
alone (the head knows only animals)."""

IMAGENET_ANIMALS = slice(0, 398)
"""ImageNet-1k classes 0-397 are animals (fish to primates); 398-999 are objects, food,
plants and scenes."""

MAX_CROP_SIDE = 2048
"""Widest square (pixels) cut at full resolution before shrinking to 224 (memory)."""

MAX_CROPS_PER_PHOTO = 16
"""Most detections of one photo that are classified (the most confident); the others
keep the detector's label. Bounds the CPU cost of a photo with many boxes."""

_GREY = tuple(round(value * 255) for value in MEAN)
_PIXEL_SCALE = (1 / (255 * np.array(STD, np.float32)))[:, None, None]
_PIXEL_OFFSET = (-np.array(MEAN, np.float32) / np.array(STD, np.float32))[:, None, None]


@dataclass(frozen=True)
class Refinement:
    """A label finer than a detector class, known only from ImageNet."""

    label: str
    parent: str
    lookalike: bool
    imagenet: tuple[int, ...]
    reported: bool = True
    """False: measured in training, never given to a detection (too unreliable)."""


@dataclass(frozen=True)
class CropVerdict:
    """What the second stage makes of one crop."""

    label: str
    probability: float  # of ``label``, the mix renormalised over our classes
    animal_mass: float  # ImageNet's probability that the crop shows any animal
    refinement_scores: dict[Refinement, float]

    def refinement(self, classes: set[str]) -> tuple[str, float] | None:
        """The best refinement of one of ``classes`` (or a look-alike) that
        reaches its threshold, with its score."""
        passing = [
            (score, item.label)
            for item, score in self.refinement_scores.items()
            if item.reported
            and (
                (item.lookalike and score >= LOOKALIKE_MIN_SCORE)
                or (item.parent in classes and score >= REFINEMENT_MIN_SCORE)
            )
        ]
        if not passing:
            return None
        score, label = max(passing)
        return label, score


@dataclass(frozen=True)
class ClassifierHead:
    """The trained parts: the linear head, the ImageNet groups and the mixing weight."""

    classes: tuple[str, ...]
    weight: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    groups: dict[str, tuple[int, ...]]  # detector class -> ImageNet indices
    refinements: tuple[Refinement, ...]
    alpha: float

    def head_probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(features @ self.weight.T + self.bias)

    def zero_shot(self, imagenet_probabilities: np.ndarray) -> np.ndarray:
        """(N, 1000) ImageNet probabilities -> (N, classes) summed per class."""
        return np.stack(
            [
                imagenet_probabilities[:, self.groups[name]].sum(axis=1)
                for name in self.classes
            ],
            axis=1,
        )

    def combined(
        self, features: np.ndarray, imagenet_probabilities: np.ndarray
    ) -> np.ndarray:
        head = self.head_probabilities(features)
        return self.alpha * head + (1 - self.alpha) * self.zero_shot(
            imagenet_probabilities
        )

    def save(self, path: Path, extra: Mapping[str, object] | None = None) -> None:
        """Write the head as a PyTorch file (what training makes and reads)."""
        import torch

        stored = self._fields()
        stored["weight"] = torch.from_numpy(self.weight.astype(np.float32))
        stored["bias"] = torch.from_numpy(self.bias.astype(np.float32))
        torch.save({**stored, **dict(extra or {})}, path)

    def to_json(self) -> str:
        """The head as JSON (arrays as base64 float32), for ONNX metadata."""
        stored = self._fields()
        for name in ("weight", "bias"):
            array = getattr(self, name).astype("<f4")
            stored[name] = {
                "shape": list(array.shape),
                "float32": base64.b64encode(array.tobytes()).decode(),
            }
        return json.dumps(stored)

    def _fields(self) -> dict[str, object]:
        return {
            "format": HEAD_FORMAT,
            "classes": list(self.classes),
            "groups": {name: list(index) for name, index in self.groups.items()},
            "refinements": [
                [
                    item.label,
                    item.parent,
                    item.lookalike,
                    list(item.imagenet),
                    item.reported,
                ]
                for item in self.refinements
            ],
            "alpha": float(self.alpha),
        }

    @classmethod
    def read(cls, path: Path) -> ClassifierHead:
        """Read a head file written by :meth:`save` (needs PyTorch)."""
        import torch

        _require_file(path)
        stored = torch.load(path, map_location="cpu", weights_only=True)
        _check_format(stored, path)
        return cls._from_fields(
            stored, stored["weight"].numpy(), stored["bias"].numpy()
        )

    @classmethod
    def from_json(cls, text: str, source: Path) -> ClassifierHead:
        stored = json.loads(text)
        _check_format(stored, source)
        weight, bias = (
            np.frombuffer(
                base64.b64decode(stored[name]["float32"]), dtype="<f4"
            ).reshape(stored[name]["shape"])
            for name in ("weight", "bias")
        )
        return cls._from_fields(stored, weight, bias)

    @classmethod
    def _from_fields(
        cls, stored: Mapping, weight: np.ndarray, bias: np.ndarray
    ) -> ClassifierHead:
        return cls(
            classes=tuple(stored["classes"]),
            weight=weight,
            bias=bias,
            groups={name: tuple(index) for name, index in stored["groups"].items()},
            refinements=tuple(
                Refinement(label, parent, bool(lookalike), tuple(index), bool(reported))
                for label, parent, lookalike, index, reported in stored["refinements"]
            ),
            alpha=float(stored["alpha"]),
        )


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigurationError(
            f"Classifier weights {path} not found; expected the .onnx file "
            "training/export.py writes or the .pt head `python -m training.classifier` "
            "writes (SATWA_CLASSIFIER_WEIGHTS)"
        )


def _check_format(stored: Mapping, path: Path) -> None:
    if stored.get("format") != HEAD_FORMAT:
        raise ConfigurationError(
            f"Classifier head {path} has format {stored.get('format')!r}; "
            f"expected {HEAD_FORMAT!r}: retrain with "
            "`python -m training.classifier`"
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def square_crop(
    image: Image.Image, box: Box, margin: float = CROP_MARGIN
) -> Image.Image:
    """The box widened by ``margin``, made square around its centre, at 224 px.

    Parts of the square outside the photo are grey (the network's input mean), so the
    animal keeps its shape whatever the box's aspect ratio. A square wider than
    ``MAX_CROP_SIDE`` is cut from a copy of the photo shrunk by a whole factor first:
    the grey canvas of a long thin photo's square would otherwise take gigabytes.
    """
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * margin)
    factor = math.ceil(side / MAX_CROP_SIDE)
    if factor > 1:
        shrunk = image.reduce(factor)
        return square_crop(
            shrunk, tuple(value / factor for value in box), margin=margin
        )
    left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
    square = (round(left), round(top), round(left + side), round(top + side))
    inside = (
        max(square[0], 0),
        max(square[1], 0),
        min(square[2], image.width),
        min(square[3], image.height),
    )
    canvas = Image.new("RGB", (square[2] - square[0], square[3] - square[1]), _GREY)
    if inside[2] > inside[0] and inside[3] > inside[1]:
        canvas.paste(image.crop(inside), (inside[0] - square[0], inside[1] - square[1]))
    return canvas.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)


def crops_batch(image: Image.Image, boxes: Sequence[Box]) -> np.ndarray:
    """The square crops of ``boxes`` as one normalised (N, 3, 224, 224) float32
    batch."""
    pixels = np.stack([np.asarray(square_crop(image, box)) for box in boxes])
    batch = pixels.transpose(0, 3, 1, 2).astype(np.float32)
    batch *= _PIXEL_SCALE  # (pixel / 255 - mean) / std, in two passes over the batch
    batch += _PIXEL_OFFSET
    return batch


def whole_photo_box(image: Image.Image) -> Box:
    return (0.0, 0.0, float(image.width), float(image.height))


class CropNetwork(Protocol):
    """EfficientNet-Lite0 on a batch from :func:`crops_batch`: pooled features
    (N, 1280) and ImageNet probabilities (N, 1000), in one forward; thread-safe."""

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class FeatureExtractor:
    """The network on PyTorch (timm), as training uses it."""

    def __init__(self, model=None) -> None:
        from app.pipeline.imagenet import load_imagenet_lite0

        self.model = model if model is not None else load_imagenet_lite0()

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            pooled, probabilities = imagenet_readings(
                self.model, torch.from_numpy(batch)
            )
        return pooled.numpy(), probabilities.numpy()


def imagenet_readings(model, batch):
    """Pooled features and ImageNet softmax of a timm EfficientNet (torch tensors);
    the same computation is exported to ONNX."""
    import torch

    pooled = model.forward_head(model.forward_features(batch), pre_logits=True)
    return pooled, torch.softmax(model.classifier(pooled), dim=1)


class OnnxCropNetwork:
    """The exported network on ONNX Runtime's CPU provider (thread-safe)."""

    def __init__(self, session) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pooled, probabilities = self._session.run(None, {self._input: batch})
        return pooled, probabilities


class CropClassifier:
    """The second stage, loaded once per process; ``refine`` is thread-safe."""

    def __init__(
        self,
        head: ClassifierHead,
        model: ModelInfo,
        network: CropNetwork | None = None,
    ) -> None:
        self.head = head
        self.model = model
        self.network = network if network is not None else FeatureExtractor()

    @classmethod
    def load(cls, weights: Path, threads: int = 0) -> CropClassifier:
        """Load an exported ``.onnx`` classifier (ONNX Runtime) or a ``.pt`` head
        (PyTorch). ``threads`` > 0 sets the inference threads (for PyTorch, its
        process-wide count), as ``SATWA_INFERENCE_THREADS`` does for the detector."""
        started = time.perf_counter()
        _require_file(weights)
        if weights.suffix == ".onnx":
            head, network = _load_onnx(weights, threads)
        elif weights.suffix == ".pt":
            head, network = _load_torch(weights, threads)
        else:
            raise ConfigurationError(
                f"Classifier weights {weights} have suffix {weights.suffix!r}; "
                "expected .onnx (ONNX Runtime) or .pt (PyTorch) "
                "(SATWA_CLASSIFIER_WEIGHTS)"
            )
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        classifier = cls(head, ModelInfo(weights.name, digest), network)
        logger.info(
            "Loaded crop classifier %s (sha256 %s, %d classes, %d refinements) "
            "in %.2f s",
            weights.name,
            digest[:12],
            len(head.classes),
            len(head.refinements),
            time.perf_counter() - started,
        )
        return classifier

    def classify(self, image: Image.Image, boxes: Sequence[Box]) -> list[CropVerdict]:
        """One verdict per box, from one batched forward."""
        if not boxes:
            return []
        features, imagenet = self.network(crops_batch(image, boxes))
        combined = self.head.combined(features, imagenet)
        combined = combined / combined.sum(axis=1, keepdims=True)
        animal_mass = imagenet[:, IMAGENET_ANIMALS].sum(axis=1)
        return [
            CropVerdict(
                self.head.classes[int(combined[row].argmax())],
                float(combined[row].max()),
                float(animal_mass[row]),
                {
                    item: float(imagenet[row, list(item.imagenet)].sum())
                    for item in self.head.refinements
                },
            )
            for row in range(len(boxes))
        ]

    def refine(
        self, image: Image.Image, detections: list[Detection]
    ) -> list[Detection]:
        """The detections relabelled where the second stage overrides the detector;
        a whole-photo detection when there were none and the classifier is sure."""
        if not detections:
            return self._whole_photo(image)
        ranked = sorted(
            range(len(detections)), key=lambda index: -detections[index].confidence
        )[:MAX_CROPS_PER_PHOTO]
        verdicts = self.classify(image, [detections[index].box for index in ranked])
        refined = list(detections)
        for index, verdict in zip(ranked, verdicts, strict=True):
            refined[index] = self._decide(detections[index], verdict)
        return refined

    def _decide(self, detection: Detection, verdict: CropVerdict) -> Detection:
        overrides = verdict.label != detection.label and _overrides(detection, verdict)
        label = verdict.label if overrides else detection.label
        refinement = verdict.refinement({label})
        if refinement is not None:
            return self._relabelled(detection, *refinement)
        if overrides:
            return self._relabelled(detection, verdict.label, verdict.probability)
        return detection

    def _relabelled(
        self, detection: Detection, label: str, confidence: float
    ) -> Detection:
        return replace(
            detection,
            label=label,
            confidence=round(confidence, 4),
            model=self.model,
            stage="classifier",
        )

    def _whole_photo(self, image: Image.Image) -> list[Detection]:
        box = whole_photo_box(image)
        (verdict,) = self.classify(image, [box])
        sure = (
            verdict.probability >= WHOLE_PHOTO_MIN_PROBABILITY
            and verdict.animal_mass >= WHOLE_PHOTO_MIN_ANIMAL_MASS
        )
        refinement = verdict.refinement({verdict.label} if sure else set())
        if refinement is not None:
            label, confidence = refinement
        elif sure:
            label, confidence = verdict.label, verdict.probability
        else:
            return []
        return [Detection(label, round(confidence, 4), box, self.model, "classifier")]


def _load_onnx(weights: Path, threads: int) -> tuple[ClassifierHead, CropNetwork]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(weights), options, providers=["CPUExecutionProvider"]
    )
    metadata = session.get_modelmeta().custom_metadata_map
    if HEAD_METADATA_KEY not in metadata:
        raise ConfigurationError(
            f"Classifier {weights} has no {HEAD_METADATA_KEY!r} metadata; expected the "
            ".onnx file training/export.py writes (SATWA_CLASSIFIER_WEIGHTS)"
        )
    head = ClassifierHead.from_json(metadata[HEAD_METADATA_KEY], weights)
    return head, OnnxCropNetwork(session)


def _load_torch(weights: Path, threads: int) -> tuple[ClassifierHead, CropNetwork]:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return ClassifierHead.read(weights), FeatureExtractor()


def _overrides(detection: Detection, verdict: CropVerdict) -> bool:
    """The classifier's class replaces an unsure detector's when the classifier is
    sure."""
    return (
        detection.confidence < DETECTOR_UNSURE_BELOW
        and verdict.probability >= OVERRIDE_MIN_PROBABILITY
    )

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
The head and its storage are in app.pipeline.classifier_head; the crops are cut in
app.pipeline.crops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from app.errors import ConfigurationError
from app.pipeline.classifier_head import (
    HEAD_METADATA_KEY,
    ClassifierHead,
    Refinement,
    require_weights_file,
)
from app.pipeline.crops import crops_batch, whole_photo_box
from app.pipeline.detect import Box, Detection, ModelInfo, model_info
from app.pipeline.onnx_session import cpu_session, run_each

logger = logging.getLogger(__name__)

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

MAX_CROPS_PER_PHOTO = 16
"""Most detections of one photo that are classified (the most confident); the others
keep the detector's label. Bounds the CPU cost of a photo with many boxes."""


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

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pooled, probabilities = run_each(self._session, batch)
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
        require_weights_file(weights)
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
        classifier = cls(head, model_info(weights), network)
        logger.info(
            "Loaded crop classifier %s (sha256 %s, %d classes, %d refinements) "
            "in %.2f s",
            weights.name,
            classifier.model.sha256[:12],
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
    session = cpu_session(weights, threads)
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

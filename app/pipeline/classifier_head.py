"""The second stage's trained head, and how it is stored.

A :class:`ClassifierHead` is the linear head over EfficientNet-Lite0's pooled features,
the ImageNet groups of every detector class (zero-shot), the refinements only ImageNet
knows, and the mixing weight ``alpha`` (app.pipeline.classify explains the reading).
Training writes it as a PyTorch file (``weights/satwa-classifier.pt``); the ONNX export
the service runs carries the same head as JSON in its metadata, so the service reads it
without PyTorch.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import ConfigurationError

HEAD_FORMAT = "satwa-classifier/1"
"""Format tag inside the head file; a file with another tag is refused."""

HEAD_METADATA_KEY = "satwa_head"
"""ONNX metadata entry holding the head (JSON) in an exported classifier."""


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

        require_weights_file(path)
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


def require_weights_file(path: Path) -> None:
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

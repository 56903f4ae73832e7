"""Train and measure the second stage: a linear head on EfficientNet-Lite0 features.

    python -m training.classifier --config training/configs/default.yaml [key=value ...]

Every photo of the manifest is split with the detector's own pHash-grouped splits
(training.splits), so the head never trains on the detector's test photos. Each photo is
cut to its real box where it has one, else taken whole (class-folder photos mostly show
one animal filling the frame); its 1280 pooled features and ImageNet probabilities are
cached in ``<work_dir>/features.npz``. The head is fitted on the train split with
class-balanced cross-entropy; its weight decay and the mix with the ImageNet zero-shot
reading (``alpha``) are chosen on the validation split; the test split is measured once.
Settings live under ``classifier:`` in the config (defaults in ``DEFAULTS``). The head,
its resolved config and the git revision go to ``<output_dir>/<name>.pt`` and
``<name>.run/``; the figures to ``<name>.metrics.json`` and ``CLASSIFIER.md``. With a
detector (``--detector``, default the detector's ONNX export in ``output_dir``) the
whole pipeline is measured on test, and the override thresholds are replayed on val
(training.override_trials); ``evaluate_classifier`` measures a head without training.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml

from app.errors import ConfigurationError
from app.pipeline.classifier_head import ClassifierHead, Refinement
from app.pipeline.detect import DetectorOptions, load_detector
from app.pipeline.imagenet import imagenet_labels
from training.classifier_report import (
    balanced_accuracy,
    label_sets,
    markdown_section,
    pipeline_report,
    predictions,
    refinement_report,
    stage_readings,
)
from training.crop_features import FeatureSet, build_features
from training.override_trials import trials_on

logger = logging.getLogger(__name__)

DEFAULTS = {
    "work_dir": "training/work/classifier",
    "name": "satwa-classifier",
    "epochs": 300,
    "learning_rate": 0.01,
    "weight_decays": [1e-4, 1e-3, 1e-2],
    "alphas": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "batch_size": 32,
    "threads": 1,
}
"""The ``classifier:`` settings a config may override."""


def classifier_settings(config: dict) -> dict:
    return {**DEFAULTS, **(config.get("classifier") or {})}


def imagenet_indices(entries: Sequence[str | list[int]]) -> tuple[int, ...]:
    """ImageNet class indices of names (any synonym) and [first, last] ranges."""
    synonyms: dict[str, list[int]] = {}
    for index, description in enumerate(imagenet_labels()):
        for name in description.split(", "):
            synonyms.setdefault(name.lower(), []).append(index)
    indices: list[int] = []
    for entry in entries:
        if isinstance(entry, list):
            indices.extend(range(entry[0], entry[1] + 1))
            continue
        found = synonyms.get(entry.lower(), [])
        if len(found) != 1:
            raise ConfigurationError(
                f"ImageNet class name {entry!r} in the taxonomy matches {len(found)} "
                "classes; expected exactly one: use another synonym or a "
                "[first, last] index range"
            )
        indices.extend(found)
    return tuple(indices)


def read_groups(
    taxonomy_path: Path,
) -> tuple[tuple[str, ...], dict[str, tuple[int, ...]], tuple[Refinement, ...]]:
    """Detector classes, their ImageNet groups and the refinements of taxonomy.yaml."""
    taxonomy = yaml.safe_load(taxonomy_path.read_text())
    classes = tuple(taxonomy["classes"])
    zero_shot = taxonomy.get("zero_shot") or {}
    groups = {name: imagenet_indices(zero_shot.get(name, [])) for name in classes}
    refinements = tuple(
        Refinement(
            label,
            spec["parent"],
            bool(spec.get("lookalike")),
            imagenet_indices(spec["imagenet"]),
            spec.get("reported", True),
        )
        for label, spec in (taxonomy.get("refinements") or {}).items()
    )
    return classes, groups, refinements


def fit_head(
    train: FeatureSet, classes: Sequence[str], weight_decay: float, settings: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Weight and bias of a linear softmax head, class-balanced, full batch."""
    torch.manual_seed(0)
    features = torch.from_numpy(train.features)
    targets = torch.tensor([classes.index(label) for label in train.labels])
    counts = torch.bincount(targets, minlength=len(classes)).float()
    balance = counts.sum() / (len(classes) * counts.clamp(min=1))
    linear = torch.nn.Linear(features.shape[1], len(classes))
    optimizer = torch.optim.Adam(linear.parameters(), lr=settings["learning_rate"])
    for _ in range(settings["epochs"]):
        optimizer.zero_grad()
        loss = (
            torch.nn.functional.cross_entropy(linear(features), targets, weight=balance)
            + weight_decay * linear.weight.pow(2).sum()
        )
        loss.backward()
        optimizer.step()
    return linear.weight.detach().numpy(), linear.bias.detach().numpy()


def train_head(
    features: FeatureSet, taxonomy_path: Path, settings: dict
) -> tuple[ClassifierHead, dict]:
    """Fit on train; pick weight decay and ``alpha`` by balanced accuracy on val."""
    classes, groups, refinements = read_groups(taxonomy_path)
    train, val = features.subset("train"), features.subset("val")
    trials = []
    for weight_decay in settings["weight_decays"]:
        weight, bias = fit_head(train, classes, weight_decay, settings)
        for alpha in settings["alphas"]:
            head = ClassifierHead(classes, weight, bias, groups, refinements, alpha)
            scores = head.combined(val.features, val.imagenet)
            accuracy = balanced_accuracy(predictions(scores, classes), val.labels)
            trials.append((accuracy, weight_decay, alpha, head))
    accuracy, weight_decay, alpha, head = max(trials, key=_preference)
    logger.info(
        "Chose weight decay %s and alpha %s: val balanced accuracy %.3f",
        weight_decay,
        alpha,
        accuracy,
    )
    choice = {
        "weight_decay": weight_decay,
        "alpha": alpha,
        "val_balanced_accuracy": round(accuracy, 4),
        "val_trials": [
            {"weight_decay": wd, "alpha": a, "balanced_accuracy": round(acc, 4)}
            for acc, wd, a, _ in trials
        ],
    }
    return head, choice


def _preference(trial: tuple) -> tuple[float, float]:
    """Best val accuracy (to 3 decimals); among equals the most zero-shot, which
    carries what ImageNet knows of taxa our photos barely show."""
    accuracy, _, alpha, _ = trial
    return round(accuracy, 3), -alpha


def evaluate_classifier(
    config: dict, head_path: Path | None = None, detector_weights: Path | None = None
) -> dict:
    """Measure the second stage on the test split of ``config``'s photos.

    Crop readings (head, zero-shot, mix) use each photo's real box or the whole photo;
    with ``detector_weights`` the whole pipeline is measured as well.
    """
    settings = classifier_settings(config)
    head_path = head_path or _head_path(config, settings)
    taxonomy_path = Path(config["taxonomy"])
    features = build_features(
        config, Path(settings["work_dir"]), settings["batch_size"]
    )
    test = features.subset("test")
    head = ClassifierHead.read(head_path)
    report = {
        "test_photos": len(test.paths),
        "stages": stage_readings(test, head, taxonomy_path),
        "refinements_test": refinement_report(test, head),
        "refinements_all_photos": refinement_report(features, head),
    }
    if detector_weights is not None and detector_weights.is_file():
        report["pipeline"] = pipeline_report(
            test, head_path, detector_weights, taxonomy_path
        )
        val = features.subset("val")
        report["override_trials_val"] = trials_on(
            val.paths,
            val.labels,
            head_path,
            load_detector(detector_weights, DetectorOptions(inference_threads=1)),
            label_sets(taxonomy_path),
        )
    logger.info("Evaluated classifier %s on %d test photos", head_path, len(test.paths))
    return report


def _head_path(config: dict, settings: dict) -> Path:
    return Path(config["output_dir"]) / f"{settings['name']}.pt"


def run(
    config: dict,
    detector_weights: Path | None = None,
    command: str = "python -m training.classifier",
) -> Path:
    """Train, save and measure the head; returns the head's path."""
    from training.export import export_classifier_onnx
    from training.train import git_revision

    settings = classifier_settings(config)
    torch.set_num_threads(settings["threads"])
    features = build_features(
        config, Path(settings["work_dir"]), settings["batch_size"]
    )
    head, choice = train_head(features, Path(config["taxonomy"]), settings)

    head_path = _head_path(config, settings)
    head_path.parent.mkdir(parents=True, exist_ok=True)
    head.save(head_path, {"git_revision": git_revision()})
    export_classifier_onnx(head_path)
    run_dir = head_path.with_suffix(".run")
    run_dir.mkdir(exist_ok=True)
    resolved = {**config, "classifier": settings}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    (run_dir / "git_revision.txt").write_text(git_revision() + "\n")
    _write_photo_manifest(run_dir / "dataset_manifest.csv", features)

    report = {
        "photos": {
            name: features.splits.count(name) for name in ("train", "val", "test")
        },
        "choice": choice,
        **evaluate_classifier(config, head_path, detector_weights),
    }
    _write_report(head_path, report, command)
    return head_path


def reevaluate(config: dict, detector_weights: Path | None, command: str) -> Path:
    """Measure the saved head again (with a new detector export, say) without
    training it; its metrics and card section are rewritten, its choice kept."""
    head_path = _head_path(config, classifier_settings(config))
    kept = json.loads(head_path.with_suffix(".metrics.json").read_text())
    report = {
        "photos": kept["photos"],
        "choice": kept["choice"],
        **evaluate_classifier(config, head_path, detector_weights),
    }
    _write_report(head_path, report, command)
    return head_path


def _write_report(head_path: Path, report: dict, command: str) -> None:
    metrics_path = head_path.with_suffix(".metrics.json")
    metrics_path.write_text(json.dumps(report, indent=2) + "\n")
    card_path = head_path.parent / "CLASSIFIER.md"
    card_path.write_text(markdown_section(report, command))
    logger.info("Wrote %s and %s", card_path, metrics_path)


def _write_photo_manifest(path: Path, features: FeatureSet) -> None:
    lines = ["split,label,photo"]
    lines += [
        f"{split},{label},{json.dumps(photo)}"
        for split, label, photo in zip(features.splits, features.labels, features.paths)
    ]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    from training.train import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=Path("training/configs/default.yaml")
    )
    parser.add_argument(
        "--detector",
        type=Path,
        default=None,
        help="Detector weights to measure the whole pipeline with; default "
        "<output_dir>/<model_name>.onnx where it exists.",
    )
    parser.add_argument(
        "--evaluate-only",
        action="store_true",
        help="Measure the saved head again (e.g. with a new detector export); no "
        "training.",
    )
    parser.add_argument(
        "overrides", nargs="*", help="key=value, e.g. classifier.epochs=50"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    command = " ".join(["python -m training.classifier", *(argv or sys.argv[1:])])
    config = load_config(arguments.config, arguments.overrides)
    detector = arguments.detector or shipped_detector(config)
    if arguments.evaluate_only:
        reevaluate(config, detector, command)
    else:
        run(config, detector, command)


def shipped_detector(config: dict) -> Path | None:
    """The detector's ONNX export beside its weights, if it has been written."""
    name = config.get("model_name")
    onnx = Path(config["output_dir"]) / f"{name}.onnx"
    return onnx if name and onnx.is_file() else None


if __name__ == "__main__":
    main()

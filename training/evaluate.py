"""Evaluate the trained detector on the test split and write its figures.

Figures: per-class precision, recall, mAP50 and mAP50-95 (Ultralytics validation on
the test split); per-photo accuracy of the top label; the rate at which look-alike
photos get a label that maps to protected catalogue taxa; a confusion-matrix picture;
and agreement of the ONNX export with the .pt on the same photos.

    python -m training.evaluate --config training/configs/default.yaml

``--labels-only`` measures the top labels, the look-alike rate, the confusion matrix
and the export's agreement again on the run's test photos, found from its dataset
manifest, and keeps the box figures: for a new export of the same weights, without
rebuilding the dataset that Ultralytics validation reads.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from app.offline_ultralytics import import_ultralytics_offline
from training.boxes import iou

logger = logging.getLogger(__name__)

SERVING_CONFIDENCE = 0.25
"""Detections below this confidence are not reported by the service, nor counted."""

NO_DETECTION = "(none)"


@dataclass(frozen=True)
class PhotoVerdict:
    """The top label the detector gave one test photo, beside its true class."""

    photo: str
    truth: str
    top_label: str
    top_confidence: float
    box: tuple[float, float, float, float] | None


def _taxonomy(config: dict) -> dict:
    return yaml.safe_load(Path(config["taxonomy"]).read_text())["classes"]


def test_photos(data_yaml: Path) -> list[tuple[Path, str]]:
    """(photo, true class) for every photo of the test split."""
    data = yaml.safe_load(data_yaml.read_text())
    label_dir = Path(data["path"]) / "labels" / "test"
    names = data["names"]
    photos = []
    for image in sorted((Path(data["path"]) / "images" / "test").iterdir()):
        class_id = int((label_dir / f"{image.stem}.txt").read_text().split()[0])
        photos.append((image, names[class_id]))
    return photos


def manifest_test_photos(run_dir: Path, data_root: Path) -> list[tuple[Path, str]]:
    """(photo, true class) of the test split as the run's dataset manifest lists them:
    the photos :func:`test_photos` reads from the built dataset, found in
    ``data_root``."""
    with (run_dir / "dataset_manifest.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    photos = []
    for row in rows:
        direct = data_root / row["source"] / row["photo"]
        found = (
            direct
            if direct.exists()
            else next((data_root / row["source"]).rglob(row["photo"]))
        )
        photos.append((found, row["label"]))
    return photos


def top_labels(
    weights: Path, photos: Sequence[tuple[Path, str]], imgsz: int
) -> list[PhotoVerdict]:
    """The most confident detection of each photo at the serving threshold."""
    import_ultralytics_offline()
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    verdicts = []
    for path, truth in photos:
        # The rectangular letterbox (long side imgsz, short side padded to the
        # stride) that the service gives the dynamic-input ONNX export, for the .pt
        # too, so both see the same pixels.
        result = model.predict(
            str(path),
            imgsz=imgsz,
            conf=SERVING_CONFIDENCE,
            verbose=False,
            device="cpu",
            rect=True,
        )[0]
        verdicts.append(_verdict(path, truth, result))
    return verdicts


def _verdict(path: Path, truth: str, result) -> PhotoVerdict:
    if len(result.boxes) == 0:
        return PhotoVerdict(path.name, truth, NO_DETECTION, 0.0, None)
    best = int(result.boxes.conf.argmax())
    box = tuple(float(value) for value in result.boxes.xyxyn[best])
    return PhotoVerdict(
        path.name,
        truth,
        result.names[int(result.boxes.cls[best])],
        float(result.boxes.conf[best]),
        box,
    )


def box_metrics(weights: Path, data_yaml: Path, imgsz: int) -> dict:
    """Per-class precision, recall, mAP50, mAP50-95 on the test split."""
    import_ultralytics_offline()
    from ultralytics import YOLO

    metrics = YOLO(str(weights)).val(
        data=str(data_yaml),
        split="test",
        imgsz=imgsz,
        plots=False,
        verbose=False,
        device="cpu",
        batch=16,
    )
    names = metrics.names
    per_class = {}
    for position, class_id in enumerate(metrics.box.ap_class_index):
        precision, recall, ap50, ap = metrics.box.class_result(position)
        per_class[names[int(class_id)]] = {
            "precision": round(float(precision), 3),
            "recall": round(float(recall), 3),
            "mAP50": round(float(ap50), 3),
            "mAP50-95": round(float(ap), 3),
        }
    overall = {
        "precision": round(float(metrics.box.mp), 3),
        "recall": round(float(metrics.box.mr), 3),
        "mAP50": round(float(metrics.box.map50), 3),
        "mAP50-95": round(float(metrics.box.map), 3),
    }
    return {"per_class": per_class, "all": overall}


def photo_accuracy(verdicts: Sequence[PhotoVerdict]) -> dict:
    """Share of photos whose top label is their true class, overall and per class."""
    per_class: dict[str, list[bool]] = {}
    for verdict in verdicts:
        per_class.setdefault(verdict.truth, []).append(
            verdict.top_label == verdict.truth
        )
    return {
        "all": round(sum(map(sum, per_class.values())) / max(1, len(verdicts)), 3),
        "photos": len(verdicts),
        "per_class": {
            label: {"photos": len(hits), "accuracy": round(sum(hits) / len(hits), 3)}
            for label, hits in sorted(per_class.items())
        },
    }


def lookalike_false_alarms(verdicts: Sequence[PhotoVerdict], taxonomy: dict) -> dict:
    """How often a look-alike photo's top label maps to protected catalogue taxa."""
    lookalikes = {name for name, entry in taxonomy.items() if entry.get("lookalike")}
    flagged = {name for name, entry in taxonomy.items() if entry.get("catalog")}
    photos = [verdict for verdict in verdicts if verdict.truth in lookalikes]
    alarms = [verdict for verdict in photos if verdict.top_label in flagged]
    return {
        "lookalike_photos": len(photos),
        "false_alarms": len(alarms),
        "rate": round(len(alarms) / max(1, len(photos)), 3),
        "by_label": dict(Counter(verdict.top_label for verdict in alarms)),
    }


def export_agreement(pt: Sequence[PhotoVerdict], onnx: Sequence[PhotoVerdict]) -> dict:
    """How often the ONNX export gives the .pt's top label, box (IoU) and confidence."""
    same_label = [
        first.top_label == second.top_label for first, second in zip(pt, onnx)
    ]
    both_boxed = [(a, b) for a, b in zip(pt, onnx) if a.box and b.box]
    ious = [iou(a.box, b.box) for a, b in both_boxed]
    confidence_gaps = [abs(a.top_confidence - b.top_confidence) for a, b in both_boxed]
    return {
        "photos": len(pt),
        "same_top_label": round(sum(same_label) / max(1, len(pt)), 4),
        "min_box_iou": round(min(ious, default=1.0), 4),
        "max_confidence_gap": round(max(confidence_gaps, default=0.0), 4),
    }


def draw_confusion_matrix(
    verdicts: Sequence[PhotoVerdict], names: Sequence[str], target: Path
) -> None:
    """Rows: true class; columns: top label (or no detection). Counts in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns = [*names, NO_DETECTION]
    counts = np.zeros((len(names), len(columns)), dtype=int)
    for verdict in verdicts:
        counts[names.index(verdict.truth), columns.index(verdict.top_label)] += 1
    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(counts / counts.sum(axis=1, keepdims=True).clip(min=1), cmap="Blues")
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
    axes.set_yticks(range(len(names)), names)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7)
    axes.set_xlabel(f"top label (conf >= {SERVING_CONFIDENCE:.2f})")
    axes.set_ylabel("true class")
    axes.set_title("Satwa detector, test split: top label per photo")
    figure.tight_layout()
    figure.savefig(target, dpi=80)
    plt.close(figure)


def evaluate_and_report(
    config: dict, weights: Path, data_yaml: Path, run_dir: Path
) -> dict:
    """Evaluate ``weights`` (and its .onnx export, if present); write metrics.json."""
    imgsz = config["train"]["imgsz"]
    photos = test_photos(data_yaml)
    verdicts = top_labels(weights, photos, imgsz)
    taxonomy = _taxonomy(config)
    report = {
        "test_photos": len(photos),
        "serving_confidence": SERVING_CONFIDENCE,
        "boxes": box_metrics(weights, data_yaml, imgsz),
        "top_label": photo_accuracy(verdicts),
        "lookalike_false_alarms": lookalike_false_alarms(verdicts, taxonomy),
    }
    _write_label_figures(report, config, weights, photos, verdicts, run_dir)
    logger.info("Evaluated %s on %d test photos", weights, len(photos))
    return report


def reevaluate_labels(config: dict, weights: Path, run_dir: Path) -> dict:
    """The label figures of ``evaluate_and_report`` again, box figures kept."""
    photos = manifest_test_photos(run_dir, Path(config["data_root"]))
    verdicts = top_labels(weights, photos, config["train"]["imgsz"])
    report = json.loads((run_dir / "metrics.json").read_text())
    report["top_label"] = photo_accuracy(verdicts)
    report["lookalike_false_alarms"] = lookalike_false_alarms(
        verdicts, _taxonomy(config)
    )
    _write_label_figures(report, config, weights, photos, verdicts, run_dir)
    logger.info("Re-measured top labels of %s on %d test photos", weights, len(photos))
    return report


def _write_label_figures(
    report: dict,
    config: dict,
    weights: Path,
    photos: Sequence[tuple[Path, str]],
    verdicts: Sequence[PhotoVerdict],
    run_dir: Path,
) -> None:
    """Export agreement, confusion matrix, metrics.json and the per-photo verdicts."""
    onnx = weights.with_suffix(".onnx")
    if onnx.exists():
        report["onnx_vs_pt"] = export_agreement(
            verdicts, top_labels(onnx, photos, config["train"]["imgsz"])
        )
    draw_confusion_matrix(
        verdicts, list(_taxonomy(config)), run_dir / "confusion_matrix.png"
    )
    (run_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    (run_dir / "test_verdicts.json").write_text(
        json.dumps([asdict(verdict) for verdict in verdicts])
    )


def main(argv: list[str] | None = None) -> None:
    from training.train import parse_training_args

    config, arguments = parse_training_args(
        __doc__.splitlines()[0], argv, _add_labels_only
    )
    weights = Path(config["output_dir"]) / f"{config['model_name']}.pt"
    run_dir = Path(config["output_dir"]) / f"{config['model_name']}.run"
    if arguments.labels_only:
        reevaluate_labels(config, weights, run_dir)
        return
    data_yaml = Path(config["work_dir"]) / "dataset" / "data.yaml"
    evaluate_and_report(config, weights, data_yaml, run_dir)


def _add_labels_only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--labels-only",
        action="store_true",
        help="Re-measure labels and the export's agreement; keep the box figures.",
    )


if __name__ == "__main__":
    main()

"""Write weights/MODEL_CARD.md from a run's record and measured figures.

python -m training.model_card --config training/configs/default.yaml
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import yaml

from training.train import config_from_args

TEMPLATE = Path(__file__).with_name("model_card_template.md")
FIGURES = Path("docs/model_card")
"""Pictures the card shows; kept under docs/, where the repository keeps pictures."""


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _catalog_keys(entry: dict) -> str:
    keys = ", ".join(entry.get("catalog") or [])
    return keys or ("(look-alike)" if entry.get("lookalike") else "-")


def _class_table(metrics: dict, taxonomy: dict) -> str:
    boxes = metrics["boxes"]["per_class"]
    photos = metrics["top_label"]["per_class"]
    rows = []
    for name, entry in taxonomy.items():
        box, photo = boxes.get(name, {}), photos.get(name, {})
        figures = [box.get(key, "-") for key in ("precision", "recall", "mAP50")]
        rows.append(
            [
                name,
                _catalog_keys(entry),
                photo.get("photos", 0),
                *figures,
                box.get("mAP50-95", "-"),
                photo.get("accuracy", "-"),
            ]
        )
    header = [
        "class",
        "catalogue keys",
        "test photos",
        "precision",
        "recall",
        "mAP50",
        "mAP50-95",
        "top-label accuracy",
    ]
    return _table(header, rows)


def _unknown_taxa(catalog_path: Path, taxonomy: dict) -> str:
    known = {key for entry in taxonomy.values() for key in entry.get("catalog") or []}
    with catalog_path.open() as handle:
        rows = list(csv.DictReader(handle))
    unknown = [
        f"{row['key']} ({row['scientific_name']})"
        for row in rows
        if row["key"] not in known
    ]
    return "; ".join(unknown) or "none"


def _box_quality(path: Path) -> str:
    if not path.exists():
        return "Box quality was not measured for this run (python -m training.boxes)."
    quality = json.loads(path.read_text())
    return (
        f"Mean IoU of CAM boxes against the real boxes of {quality['photos']} tiger "
        f"frames not used to tune the threshold: {quality['mean_iou']:.3f} (a "
        f"whole-frame box scores {quality['whole_frame_mean_iou']:.3f})."
    )


def _sources_table(manifest_path: Path) -> str:
    manifest = yaml.safe_load(manifest_path.read_text())
    rows = [
        [entry["path"], entry["class"], entry["layout"], entry.get("licence", "?")]
        for entry in manifest["sources"]
    ]
    birds = manifest.get("birds525")
    for label, species in (birds or {}).get("classes", {}).items():
        rows.append(
            [
                f"{birds['path']} ({len(species)} species)",
                label,
                "folder",
                birds["licence"],
            ]
        )
    return _table(["folder", "class", "layout", "licence"], rows)


def render(config: dict) -> str:
    """The model card's markdown for the run that ``config`` describes."""
    output_dir = Path(config["output_dir"])
    run_dir = output_dir / f"{config['model_name']}.run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    training = json.loads((run_dir / "training.json").read_text())
    taxonomy = yaml.safe_load(Path(config["taxonomy"]).read_text())["classes"]
    classifier = output_dir / "CLASSIFIER.md"
    overall, alarms = metrics["boxes"]["all"], metrics["lookalike_false_alarms"]
    onnx = metrics.get("onnx_vs_pt", {})
    FIGURES.mkdir(parents=True, exist_ok=True)
    confusion = FIGURES / f"{config['model_name']}-confusion-matrix.png"
    shutil.copy(run_dir / "confusion_matrix.png", confusion)
    return TEMPLATE.read_text().format(
        confusion_matrix=Path("..") / confusion,
        model_name=config["model_name"],
        imgsz=config["train"]["imgsz"],
        epochs=config["train"]["epochs"],
        max_train=config["max_train_per_class"],
        revision=(run_dir / "git_revision.txt").read_text().strip(),
        train_minutes=round(training["train_seconds"] / 60),
        device=training["device"],
        box_quality=_box_quality(run_dir / "box_quality.json"),
        sources_table=_sources_table(Path(config["manifest"])),
        test_photos=metrics["test_photos"],
        serving_confidence=metrics["serving_confidence"],
        class_table=_class_table(metrics, taxonomy),
        all_precision=overall["precision"],
        all_recall=overall["recall"],
        all_map50=overall["mAP50"],
        all_map=overall["mAP50-95"],
        top_label_all=metrics["top_label"]["all"],
        top_label_photos=metrics["top_label"]["photos"],
        alarms=alarms["false_alarms"],
        lookalike_photos=alarms["lookalike_photos"],
        alarm_rate=alarms["rate"],
        alarm_labels=alarms["by_label"] or "none",
        onnx_same_label=onnx.get("same_top_label"),
        onnx_min_iou=onnx.get("min_box_iou"),
        onnx_max_gap=onnx.get("max_confidence_gap"),
        classifier_section=classifier.read_text().strip()
        if classifier.exists()
        else "",
        unknown_taxa=_unknown_taxa(Path("datasets/catalog.csv"), taxonomy),
    )


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(__doc__.splitlines()[0], argv)
    target = Path(config["output_dir"]) / "MODEL_CARD.md"
    target.write_text(render(config))


if __name__ == "__main__":
    main()

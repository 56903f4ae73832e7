"""Write weights/MODEL_CARD.md from a run's record and measured figures.

python -m training.model_card --config training/configs/default.yaml
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

from training.train import load_config

INTENDED_USE = """\
Intended use: triage of photos from online listings for wildlife cyber-patrol analysts.
A label is a lead for a person to check, never evidence on its own; the catalogue entries a
label maps to are the taxa it *may* be. Not for: identifying individual animals, judging
whether a specimen is captive-bred or legal, or any decision without a human review."""


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _class_rows(metrics: dict, taxonomy: dict) -> list[list]:
    boxes = metrics["boxes"]["per_class"]
    photos = metrics["top_label"]["per_class"]
    rows = []
    for name, entry in taxonomy.items():
        box = boxes.get(name, {})
        photo = photos.get(name, {})
        keys = ", ".join(entry.get("catalog") or [])
        described = keys or ("(look-alike)" if entry.get("lookalike") else "-")
        rows.append(
            [
                name,
                described,
                photo.get("photos", 0),
                box.get("precision", "-"),
                box.get("recall", "-"),
                box.get("mAP50", "-"),
                box.get("mAP50-95", "-"),
                photo.get("accuracy", "-"),
            ]
        )
    return rows


def _unknown_taxa(
    catalog_path: Path, taxonomy: dict, trained_labels: set[str]
) -> list[str]:
    """Catalogue taxa no trained class or refinement maps to."""
    known = {
        key
        for name, entry in taxonomy.items()
        if name in trained_labels
        for key in entry.get("catalog") or []
    }
    with catalog_path.open() as handle:
        rows = list(csv.DictReader(handle))
    return [
        f"{row['key']} ({row['scientific_name']})"
        for row in rows
        if row["key"] not in known
    ]


def _box_quality_sentence(path: Path) -> str:
    if not path.exists():
        return "not measured for this run (python -m training.boxes)."
    quality = json.loads(path.read_text())
    return (
        f"mean IoU {quality['mean_iou']:.3f} against the real boxes of "
        f"{quality['photos']} tiger frames not used to tune the threshold (a whole-frame "
        f"box scores {quality['whole_frame_mean_iou']:.3f})."
    )


def _sources(manifest_path: Path) -> list[list]:
    manifest = yaml.safe_load(manifest_path.read_text())
    rows = [
        [entry["path"], entry["class"], entry["layout"], entry.get("licence", "?")]
        for entry in manifest["sources"]
    ]
    birds = manifest.get("birds525")
    if birds:
        for label, species in birds["classes"].items():
            rows.append(
                [
                    f"{birds['path']} ({len(species)} species)",
                    label,
                    "folder",
                    birds["licence"],
                ]
            )
    return rows


def render(config: dict) -> str:
    output_dir = Path(config["output_dir"])
    run_dir = output_dir / f"{config['model_name']}.run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    training = json.loads((run_dir / "training.json").read_text())
    taxonomy = yaml.safe_load(Path(config["taxonomy"]).read_text())["classes"]
    revision = (run_dir / "git_revision.txt").read_text().strip()
    classifier_section = output_dir / "CLASSIFIER.md"
    onnx = metrics.get("onnx_vs_pt", {})
    alarms = metrics["lookalike_false_alarms"]
    unknown = _unknown_taxa(Path("datasets/catalog.csv"), taxonomy, set(taxonomy))
    parts = [
        f"# Model card: {config['model_name']}",
        (
            "Satwa's wildlife detector: an Ultralytics YOLOv5nu fine-tuned on CPU from "
            "COCO-pretrained backbone and neck (`yolov5nu-coco-init.pt`), "
            f"image size {config['train']['imgsz']}, {config['train']['epochs']} epochs. "
            "Licence: AGPL-3.0, like Ultralytics and the init weights."
        ),
        (
            f"Files: `{config['model_name']}.pt` (PyTorch), `{config['model_name']}.onnx` "
            f"(ONNX Runtime, used by the service), `{config['model_name']}.run/` (resolved "
            "config, dataset manifest, git revision, metrics, confusion matrix)."
        ),
        "## Training",
        (
            f"Command: `python -m training.train --config training/configs/default.yaml` "
            f"(git revision `{revision}`), {training['train_seconds'] / 60:.0f} minutes of "
            f"fine-tuning on `{training['device']}` (2-core CPU), after building the dataset."
        ),
        (
            "Boxes: real boxes for the two tiger sets; for folder-only sources, class-activation "
            "maps of the ImageNet EfficientNet-Lite0 (training/boxes.py). Splits: photos grouped "
            "by video clip and by pHash (<= 8 bits), each group whole in one split "
            "(training/splits.py)."
        ),
        "## Data sources",
        _table(
            ["folder", "class", "layout", "licence"], _sources(Path(config["manifest"]))
        ),
        "## Test-split figures",
        (
            f"{metrics['test_photos']} test photos never seen in training. Box metrics from "
            "Ultralytics validation on the test split; top-label accuracy counts a photo right "
            f"when its most confident detection (conf >= {metrics['serving_confidence']}) has the "
            "photo's class. Boxes of folder photos are CAM boxes, so box metrics there measure "
            "agreement with CAM boxes, not with hand-drawn ones."
        ),
        _table(
            [
                "class",
                "catalogue keys",
                "test photos",
                "precision",
                "recall",
                "mAP50",
                "mAP50-95",
                "top-label accuracy",
            ],
            _class_rows(metrics, taxonomy),
        ),
        (
            f"All classes: precision {metrics['boxes']['all']['precision']}, recall "
            f"{metrics['boxes']['all']['recall']}, mAP50 {metrics['boxes']['all']['mAP50']}, "
            f"mAP50-95 {metrics['boxes']['all']['mAP50-95']}; top-label accuracy "
            f"{metrics['top_label']['all']} over {metrics['top_label']['photos']} photos."
        ),
        (
            f"Look-alike false alarms: {alarms['false_alarms']} of {alarms['lookalike_photos']} "
            f"look-alike test photos (cat, dog, rabbit, domestic bird) got a label that maps to "
            f"protected catalogue taxa: rate {alarms['rate']} (by label: {alarms['by_label']})."
        ),
        "![confusion matrix](satwa-detector.run/confusion_matrix.png)",
        (
            f"ONNX export against the .pt on the same test photos: same top label "
            f"{onnx.get('same_top_label')}, smallest box IoU {onnx.get('min_box_iou')}, largest "
            f"confidence gap {onnx.get('max_confidence_gap')}."
        ),
    ]
    if classifier_section.exists():
        parts.append(classifier_section.read_text().strip())
    parts += [
        "## Intended use",
        INTENDED_USE,
        "## Limits",
        (
            "- Trained on about 6,400 photos, mostly one animal filling the frame; listing photos "
            "with several animals, cages, hands or text overlays are harder."
        ),
        "- Box quality of folder photos is limited by CAM boxes: "
        + _box_quality_sentence(run_dir / "box_quality.json"),
        (
            "- Classes with few photos (ape, rabbit, bear, wild_bird) are weak; apes are mostly "
            "gorillas and chimpanzees, not orangutans or gibbons."
        ),
        (
            "- No wildlife products (scales, skins, ivory, casques, shells, fins) and no plush toys "
            "in the training data."
        ),
        "- Catalogue taxa the detector cannot know for lack of photos (no class maps to them): "
        + "; ".join(unknown)
        + ".",
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=Path("training/configs/default.yaml")
    )
    parser.add_argument("overrides", nargs="*")
    arguments = parser.parse_args(argv)
    config = load_config(arguments.config, arguments.overrides)
    target = Path(config["output_dir"]) / "MODEL_CARD.md"
    target.write_text(render(config))


if __name__ == "__main__":
    main()

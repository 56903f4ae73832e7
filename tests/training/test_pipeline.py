"""The whole training pipeline on a tiny generated dataset: build, train, evaluate, export."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw

from tests.factories import REPO_ROOT
from training.train import run

INIT_WEIGHTS = REPO_ROOT.parent / "shared" / "weights" / "yolov5nu-coco-init.pt"


def _draw_animal(label: str, seed: int) -> tuple[Image.Image, tuple[float, ...]]:
    """A textured background with one coloured shape; the box is in fractions."""
    rng = random.Random(f"{label}:{seed}")
    image = Image.new("RGB", (96, 96), tuple(rng.randrange(40, 90) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    x1, y1 = rng.randrange(5, 40), rng.randrange(5, 40)
    x2, y2 = x1 + rng.randrange(35, 50), y1 + rng.randrange(35, 50)
    if label == "striped":
        draw.rectangle((x1, y1, x2, y2), fill=(230, 120, 20))
        for x in range(x1, x2, 6):
            draw.line((x, y1, x, y2), fill=(10, 10, 10), width=2)
    else:
        draw.ellipse((x1, y1, x2, y2), fill=(240, 240, 240))
    return image, (x1 / 96, y1 / 96, x2 / 96, y2 / 96)


def _write_tiny_data_root(data_root: Path) -> None:
    boxed = data_root / "striped_video"
    for split in ("train", "val"):
        (boxed / "images" / split).mkdir(parents=True)
        (boxed / "labels" / split).mkdir(parents=True)
    for frame in range(40):
        split = "train" if frame % 5 else "val"
        image, (x1, y1, x2, y2) = _draw_animal("striped", frame)
        image.save(boxed / "images" / split / f"Frame_{frame}.jpg")
        (boxed / "labels" / split / f"Frame_{frame}.txt").write_text(
            f"0 {(x1 + x2) / 2} {(y1 + y2) / 2} {x2 - x1} {y2 - y1}\n"
        )
    folder = data_root / "spotted_folder"
    folder.mkdir()
    for number in range(40):
        _draw_animal("spotted", number)[0].save(folder / f"{number}.jpg")


def _tiny_config(tmp_path: Path) -> dict:
    data_root = tmp_path / "data"
    _write_tiny_data_root(data_root)
    (tmp_path / "taxonomy.yaml").write_text(
        yaml.safe_dump(
            {
                "classes": {
                    "striped": {"catalog": ["sumatran_tiger"]},
                    "spotted": {"catalog": [], "lookalike": True},
                }
            }
        )
    )
    (tmp_path / "sources.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {
                        "path": "striped_video",
                        "layout": "yolo",
                        "class": "striped",
                        "clip_frames": 4,
                    },
                    {"path": "spotted_folder", "layout": "folder", "class": "spotted"},
                ]
            }
        )
    )
    return {
        "data_root": str(data_root),
        "manifest": str(tmp_path / "sources.yaml"),
        "taxonomy": str(tmp_path / "taxonomy.yaml"),
        "init_weights": str(INIT_WEIGHTS),
        "work_dir": str(tmp_path / "work" / "tiny"),
        "output_dir": str(tmp_path / "out"),
        "model_name": "tiny-detector",
        "max_train_per_class": 30,
        "max_val_per_class": 10,
        "seed": 0,
        "export": {"onnx": True},
        "train": {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0},
    }


@pytest.mark.slow
def test_training_run_tiny_dataset_writes_weights_export_and_record(tmp_path):
    shipped = run(_tiny_config(tmp_path))

    run_dir = shipped.with_suffix(".run")
    assert shipped.exists() and shipped.with_suffix(".onnx").exists()
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model_name"] == (
        "tiny-detector"
    )
    assert (run_dir / "git_revision.txt").read_text().strip()
    manifest = (run_dir / "dataset_manifest.csv").read_text().splitlines()
    assert manifest[0].startswith("split,label,source")
    assert {"real", "cam"} <= {line.split(",")[4] for line in manifest[1:]}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_photos"] > 0
    assert set(metrics["boxes"]["all"]) == {"precision", "recall", "mAP50", "mAP50-95"}
    assert metrics["onnx_vs_pt"]["photos"] == metrics["test_photos"]
    assert (run_dir / "confusion_matrix.png").stat().st_size > 0

"""CPU cost of the second stage (crop classifier) against the detector alone.

On the same photos, one after the other in one thread: the ONNX detector alone (the
baseline), then the crop classifier on 1 and on 4 boxes of each photo (one batched
forward each). Prints medians in milliseconds and each one's ratio to the baseline.

    .venv/bin/python benchmarks/second_stage.py --photos 40
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from PIL import Image

from app.pipeline.classify import CropClassifier
from app.pipeline.detect import DetectorOptions, load_detector

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("SATWA_DATASETS_DIR", REPO_ROOT / "../shared/datasets"))


def sample_photos(count: int) -> list[Image.Image]:
    paths = sorted(DATASETS.rglob("*.jpg"))
    chosen = random.Random(0).sample(paths, count)
    return [Image.open(path).convert("RGB") for path in chosen]


def quarter_boxes(photo: Image.Image) -> list[tuple[float, float, float, float]]:
    width, height = photo.width / 2, photo.height / 2
    return [(x, y, x + width, y + height) for x in (0.0, width) for y in (0.0, height)]


def median_ms(step, photos: list[Image.Image]) -> float:
    step(photos[0])  # warm-up
    timings = []
    for photo in photos:
        started = time.perf_counter()
        step(photo)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument(
        "--detector", type=Path, default=REPO_ROOT / "weights/satwa-detector.onnx"
    )
    parser.add_argument(
        "--head", type=Path, default=REPO_ROOT / "weights/satwa-classifier.onnx"
    )
    arguments = parser.parse_args()

    photos = sample_photos(arguments.photos)
    detector = load_detector(arguments.detector, DetectorOptions(inference_threads=1))
    classifier = CropClassifier.load(arguments.head, threads=1)
    baseline = median_ms(detector.detect, photos)
    rows = {
        "detector alone (baseline)": baseline,
        "classifier, 1 crop": median_ms(
            lambda photo: classifier.classify(photo, quarter_boxes(photo)[:1]), photos
        ),
        "classifier, 4 crops": median_ms(
            lambda photo: classifier.classify(photo, quarter_boxes(photo)), photos
        ),
    }
    print(f"{len(photos)} photos, 1 thread, medians:")
    for name, value in rows.items():
        print(f"  {name:28s} {value:8.1f} ms   x{value / baseline:.2f}")


if __name__ == "__main__":
    main()

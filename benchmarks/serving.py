"""Throughput and latency of POST /v1/listings against plain Ultralytics predict.

Starts the real service (``satwa serve``: HTTP, decode, detection, hashing, matching,
storage) on a fresh SQLite database for each concurrency level, posts each photo as its
own listing from 1, 4 and 8 concurrent clients, then runs plain Ultralytics predict
(PyTorch, its default image size) on the same photos, one after the other, with the
server stopped. Prints photos per second, p50/p99 latency, the ratio to the baseline,
the top-label agreement between the two, and the server's resident memory.

    .venv/bin/python benchmarks/serving.py --photos 48
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("SATWA_DATASETS_DIR", REPO_ROOT / "../shared/datasets"))
FOLDERS = (
    "tiger_video_frames_yolo",
    "eagles_owls_web",
    "parrots4_kaggle_raw",
    "reptiles_amphibians_kaggle",
    "popular_animals_google",
    "negatives_cats_dogs_asirra",
)


def pick_photos(count: int, seed: int = 0) -> list[Path]:
    """``count`` real photos spread over the dataset folders, the same every run."""
    rng = random.Random(seed)
    photos: list[Path] = []
    for number in range(count):
        folder = DATASETS / FOLDERS[number % len(FOLDERS)]
        candidates = sorted(p for p in folder.rglob("*.jpg"))
        photos.append(rng.choice(candidates))
    return photos


class Server:
    def __init__(self, weights: Path, detector_only: bool) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="satwa-bench-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SATWA_DATABASE_URL": f"sqlite:///{self.folder / 'bench.db'}",
            "SATWA_EVIDENCE_DIR": str(self.folder / "evidence"),
            "SATWA_PORT": str(self.port),
            "SATWA_WEIGHTS": str(weights),
            "SATWA_LOG_LEVEL": "WARNING",
            **({"SATWA_CLASSIFIER_WEIGHTS": ""} if detector_only else {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError("satwa serve did not start")

    def memory_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process in MB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value
        return int(fields["VmRSS"].split()[0]) / 1024, int(
            fields["VmHWM"].split()[0]
        ) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def post_listing(client: httpx.Client, url: str, photo: Path, number: int):
    started = time.perf_counter()
    response = client.post(
        f"{url}/v1/listings",
        data={
            "platform": "benchmark",
            "account": f"seller{number % 7}",
            "listing_url": f"https://shop.example/bench/{number}",
        },
        files=[("photos", (photo.name, photo.read_bytes(), "image/jpeg"))],
        timeout=300,
    )
    response.raise_for_status()
    return time.perf_counter() - started, response.json()


def run_level(
    photos: list[Path], clients: int, weights: Path, detector_only: bool
) -> dict:
    server = Server(weights, detector_only)
    try:
        with httpx.Client() as warm:
            post_listing(warm, server.url, photos[0], -1)
        clients_by_thread = [httpx.Client() for _ in range(clients)]

        def work(number: int):
            client = clients_by_thread[number % clients]
            return post_listing(client, server.url, photos[number], number)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(work, range(len(photos))))
        elapsed = time.perf_counter() - started
        rss, peak = server.memory_mb()
    finally:
        server.stop()
    latencies = sorted(latency for latency, _ in results)
    return {
        "clients": clients,
        "photos_per_s": len(photos) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "answers": [answer for _, answer in results],
    }


def run_baseline(photos: list[Path], weights: Path) -> tuple[float, list[str | None]]:
    """Plain Ultralytics predict, PyTorch, default image size, one photo at a time."""
    os.environ["YOLO_OFFLINE"] = "1"
    from ultralytics import YOLO

    model = YOLO(str(weights))
    model.predict(str(photos[0]), verbose=False)
    labels: list[str | None] = []
    started = time.perf_counter()
    for photo in photos:
        (result,) = model.predict(str(photo), verbose=False)
        best = int(result.boxes.conf.argmax()) if len(result.boxes) else None
        labels.append(
            None if best is None else result.names[int(result.boxes.cls[best])]
        )
    return len(photos) / (time.perf_counter() - started), labels


def top_label(answer: dict) -> str | None:
    detections = answer["photos"][0]["detections"]
    if not detections:
        return None
    return max(detections, key=lambda d: d["confidence"])["label"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--weights", type=Path, default=REPO_ROOT / "weights")
    parser.add_argument(
        "--detector-only",
        action="store_true",
        help="Serve without the second stage (SATWA_CLASSIFIER_WEIGHTS empty).",
    )
    args = parser.parse_args()

    photos = pick_photos(args.photos)
    onnx, torch_weights = (
        args.weights / "satwa-detector.onnx",
        args.weights / "satwa-detector.pt",
    )
    print(
        f"{len(photos)} photos from {DATASETS}; "
        f"service {onnx.name}, baseline {torch_weights.name}"
    )
    print(f"machine: {os.cpu_count()} cores")
    print(f"second stage: {'off' if args.detector_only else 'as configured'}")
    levels = [
        run_level(photos, clients, onnx, args.detector_only) for clients in args.levels
    ]
    baseline, baseline_labels = run_baseline(photos, torch_weights)

    print(
        "\nbaseline Ultralytics predict (PyTorch, default imgsz): "
        f"{baseline:.2f} photos/s"
    )
    print(
        f"{'clients':>7} {'photos/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} "
        f"{'RSS MB':>7} {'peak MB':>8}"
    )
    for level in levels:
        print(
            f"{level['clients']:>7} {level['photos_per_s']:>9.2f} "
            f"{level['p50_ms']:>8.0f} "
            f"{level['p99_ms']:>8.0f} {level['photos_per_s'] / baseline:>6.2f} "
            f"{level['rss_mb']:>7.0f} {level['peak_rss_mb']:>8.0f}"
        )
    service_labels = [top_label(answer) for answer in levels[0]["answers"]]
    agree = sum(a == b for a, b in zip(service_labels, baseline_labels, strict=True))
    found = sum(label is not None for label in baseline_labels)
    print(
        f"\ntop label agrees with the baseline on {agree}/{len(photos)} photos "
        f"(baseline found something in {found})"
    )


if __name__ == "__main__":
    main()

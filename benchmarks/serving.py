"""Throughput and latency of POST /v1/listings against plain Ultralytics predict.

Starts the real service (``satwa serve``: HTTP, decode, detection, second stage,
hashing, matching, storage) on a fresh SQLite database for each concurrency level,
posts each photo as its own listing from 1, 4 and 8 concurrent clients, then runs plain
Ultralytics predict (PyTorch, one photo after the other) on the same photos with the
server stopped, twice: at Ultralytics' default image size (``imgsz=640``) and at the
size the checkpoint was trained at (what ``predict`` uses when none is given; 256 for
the shipped detector). Prints photos per second, p50/p99 latency, the ratio to each
baseline (of the medians, and round by round), CPU milliseconds per photo (all the
server's processes; all of PyTorch's threads for a baseline), resident memory (the
largest server process, now and at its peak, and all of the server's processes
together) and top-label accuracy of the service and of each baseline.

The photos are the detector's test split (weights/satwa-detector.run/
dataset_manifest.csv: real photos from ../shared/datasets never trained on, with their
true class), taken class by class in turn. A refinement the second stage reports
(cockatoo, hornbill...) counts as its parent class.

    .venv/bin/python benchmarks/serving.py --photos 96
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, zip_longest
from pathlib import Path

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("SATWA_DATASETS_DIR", REPO_ROOT / "../shared/datasets"))
MANIFEST = REPO_ROOT / "weights/satwa-detector.run/dataset_manifest.csv"
ULTRALYTICS_DEFAULT_IMGSZ = 640


def pick_photos(count: int) -> list[tuple[Path, str]]:
    """``count`` test-split photos with their true class, the classes taken in turn
    (the same every run)."""
    by_class: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    with MANIFEST.open() as handle:
        for row in csv.DictReader(handle):
            if row["split"] == "test":
                by_class[row["label"]].append((_locate(row), row["label"]))
    turns = zip_longest(*(by_class[name] for name in sorted(by_class)))
    return [photo for photo in chain.from_iterable(turns) if photo][:count]


def _locate(row: dict[str, str]) -> Path:
    direct = DATASETS / row["source"] / row["photo"]
    return (
        direct
        if direct.exists()
        else next((DATASETS / row["source"]).rglob(row["photo"]))
    )


def parents() -> dict[str, str]:
    """Refinement label -> the detector class it refines (taxonomy.yaml)."""
    taxonomy = yaml.safe_load((REPO_ROOT / "datasets/taxonomy.yaml").read_text())
    return {
        label: entry["parent"]
        for label, entry in taxonomy.get("refinements", {}).items()
        if "parent" in entry
    }


class Server:
    def __init__(self, weights: Path, detector_only: bool, processes: int) -> None:
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
            "SATWA_SERVER_PROCESSES": str(processes),
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

    def memory_mb(self) -> tuple[float, float, float]:
        """Resident memory in MB: the largest server process now and at its peak, and
        all its processes together now (the supervisor and its workers)."""
        readings = [_memory_mb(pid) for pid in _process_tree(self.process.pid)]
        return (
            max(rss for rss, _ in readings),
            max(peak for _, peak in readings),
            sum(rss for rss, _ in readings),
        )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def _memory_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of one process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(
        fields["VmHWM"].split()[0]
    ) / 1024


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [each for child in children for each in _process_tree(int(child))]


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
    photos: list[Path], clients: int, weights: Path, detector_only: bool, processes: int
) -> dict:
    server = Server(weights, detector_only, processes)
    try:
        with httpx.Client() as warm:
            post_listing(warm, server.url, photos[0], -1)
        clients_by_thread = [httpx.Client() for _ in range(clients)]

        def work(number: int):
            client = clients_by_thread[number % clients]
            return post_listing(client, server.url, photos[number], number)

        started, cpu_started = time.perf_counter(), server.cpu_seconds()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(work, range(len(photos))))
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu_started
        rss, peak, total = server.memory_mb()
    finally:
        server.stop()
    return {
        "clients": clients,
        "photos_per_s": len(photos) / elapsed,
        "cpu_ms": 1000 * cpu / len(photos),
        "latencies": [latency for latency, _ in results],
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "total_rss_mb": total,
        "answers": [answer for _, answer in results],
    }


def summarise(runs: list[dict]) -> dict:
    """Rounds of one level -> the median photos/s, latency percentiles over every
    request, the largest memory readings and the first round's answers."""
    latencies = sorted(latency for run in runs for latency in run["latencies"])
    return {
        "clients": runs[0]["clients"],
        "photos_per_s": statistics.median(run["photos_per_s"] for run in runs),
        "cpu_ms": statistics.median(run["cpu_ms"] for run in runs),
        "rounds": [run["photos_per_s"] for run in runs],
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        **{
            name: max(run[name] for run in runs)
            for name in ("rss_mb", "peak_rss_mb", "total_rss_mb")
        },
        "answers": runs[0]["answers"],
    }


def run_baseline(
    photos: list[Path], model, imgsz: int | None
) -> tuple[float, list[str | None], float]:
    """Plain Ultralytics predict on PyTorch, one photo at a time; ``imgsz`` None is
    predict's own choice (the checkpoint's training size). Returns photos/s, the top
    labels and this process's CPU milliseconds per photo (all PyTorch's threads)."""
    size = {} if imgsz is None else {"imgsz": imgsz}
    model.predict(str(photos[0]), verbose=False, **size)
    labels: list[str | None] = []
    started, cpu_started = time.perf_counter(), _own_cpu_seconds()
    for photo in photos:
        (result,) = model.predict(str(photo), verbose=False, **size)
        best = int(result.boxes.conf.argmax()) if len(result.boxes) else None
        labels.append(
            None if best is None else result.names[int(result.boxes.cls[best])]
        )
    elapsed, cpu = time.perf_counter() - started, _own_cpu_seconds() - cpu_started
    return len(photos) / elapsed, labels, 1000 * cpu / len(photos)


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _rounds(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def top_label(answer: dict) -> str | None:
    detections = answer["photos"][0]["detections"]
    if not detections:
        return None
    return max(detections, key=lambda d: d["confidence"])["label"]


def accuracy(labels: list[str | None], truths: list[str]) -> float:
    refined = parents()
    right = sum(
        refined.get(label, label) == truth
        for label, truth in zip(labels, truths, strict=True)
    )
    return right / len(truths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--weights", type=Path, default=REPO_ROOT / "weights")
    parser.add_argument(
        "--detector-only",
        action="store_true",
        help="Serve without the second stage (SATWA_CLASSIFIER_WEIGHTS empty).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="Rounds of every level and baseline; medians are printed.",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="SATWA_SERVER_PROCESSES of the service (default 1, as the service's).",
    )
    args = parser.parse_args()

    chosen = pick_photos(args.photos)
    photos, truths = [path for path, _ in chosen], [truth for _, truth in chosen]
    onnx, torch_weights = (
        args.weights / "satwa-detector.onnx",
        args.weights / "satwa-detector.pt",
    )
    print(
        f"{len(photos)} test-split photos of {len(set(truths))} classes from "
        f"{DATASETS}; service {onnx.name}, baseline {torch_weights.name}"
    )
    print(f"machine: {os.cpu_count()} cores")
    print(f"second stage: {'off' if args.detector_only else 'as configured'}")
    print(f"server processes: {args.processes}")
    print(f"rounds: {args.rounds} (medians of photos/s)")
    os.environ["YOLO_OFFLINE"] = "1"
    from ultralytics import YOLO

    model = YOLO(str(torch_weights))
    sizes = {
        f"imgsz {ULTRALYTICS_DEFAULT_IMGSZ} (Ultralytics default)": (
            ULTRALYTICS_DEFAULT_IMGSZ
        ),
        "checkpoint's imgsz (predict without imgsz)": None,
    }
    level_runs: dict[int, list[dict]] = defaultdict(list)
    baseline_runs: dict[str, list[tuple[float, list, float]]] = defaultdict(list)
    for _ in range(args.rounds):
        for clients in args.levels:
            level_runs[clients].append(
                run_level(photos, clients, onnx, args.detector_only, args.processes)
            )
        for name, imgsz in sizes.items():
            baseline_runs[name].append(run_baseline(photos, model, imgsz))
    levels = [summarise(level_runs[clients]) for clients in args.levels]

    print("\nbaseline: plain Ultralytics predict, PyTorch, one photo at a time")
    rates, round_rates = [], []
    for name, runs in baseline_runs.items():
        rate = statistics.median(rate for rate, _, _ in runs)
        rates.append(rate)
        round_rates.append([rate for rate, _, _ in runs])
        cpu_ms = statistics.median(cpu for _, _, cpu in runs)
        print(
            f"  {name}: {rate:.2f} photos/s ({_rounds(round_rates[-1])}), "
            f"{cpu_ms:.1f} CPU ms/photo, top-label accuracy "
            f"{accuracy(runs[0][1], truths):.3f}"
        )
    print(
        f"\n{'clients':>7} {'photos/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ratio@640':>9} {'ratio@ckpt':>10} {'CPU ms':>7} {'RSS MB':>7} "
        f"{'peak MB':>8} {'all MB':>7}"
    )
    for level in levels:
        print(
            f"{level['clients']:>7} {level['photos_per_s']:>9.2f} "
            f"{level['p50_ms']:>8.0f} {level['p99_ms']:>8.0f} "
            f"{level['photos_per_s'] / rates[0]:>9.2f} "
            f"{level['photos_per_s'] / rates[1]:>10.2f} "
            f"{level['cpu_ms']:>7.1f} "
            f"{level['rss_mb']:>7.0f} {level['peak_rss_mb']:>8.0f} "
            f"{level['total_rss_mb']:>7.0f}"
        )
    print("\nper round (service photos/s / the same round's predict@640 photos/s):")
    for level in levels:
        ratios = [
            service / baseline
            for service, baseline in zip(level["rounds"], round_rates[0], strict=True)
        ]
        print(
            f"  {level['clients']} clients: {_rounds(level['rounds'])} photos/s; "
            f"ratios {_rounds(ratios)}, median {statistics.median(ratios):.2f}"
        )
    service_labels = [top_label(answer) for answer in levels[0]["answers"]]
    print(f"\nservice top-label accuracy: {accuracy(service_labels, truths):.3f}")


if __name__ == "__main__":
    main()

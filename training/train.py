"""Train Satwa's detector from a config file: build data, fine-tune, evaluate, export.

    python -m training.train --config training/configs/default.yaml

The resolved config, the dataset manifest and the git revision are written beside the
weights (``weights/<model_name>.run/``), so a run can be reproduced from its output.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from app.offline_ultralytics import import_ultralytics_offline
from training.dataset import build_dataset

logger = logging.getLogger(__name__)


def load_config(config_path: Path, overrides: list[str]) -> dict:
    """The config file with ``key=value`` overrides (``train.epochs=1``) applied."""
    config = yaml.safe_load(config_path.read_text())
    for override in overrides:
        dotted, value = override.split("=", 1)
        *parents, leaf = dotted.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    return config


def git_revision() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, check=False
    )
    suffix = "-dirty" if dirty.stdout.strip() else ""
    return (completed.stdout.strip() or "unknown") + suffix


def pick_device() -> str:
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def fine_tune(config: dict, data_yaml: Path, work_dir: Path) -> Path:
    """Fine-tune from the init weights; returns the best checkpoint."""
    import_ultralytics_offline()
    from ultralytics import YOLO

    model = YOLO(config["init_weights"])
    model.train(
        data=str(data_yaml),
        project=str(work_dir.resolve()),
        name="train",
        exist_ok=True,
        plots=False,
        val=False,
        seed=config["seed"],
        deterministic=True,
        device=pick_device(),
        amp=False,
        verbose=False,
        **config["train"],
    )
    run_dir = work_dir / "train" / "weights"
    best = run_dir / "best.pt"
    return best if best.exists() else run_dir / "last.pt"


def write_run_record(
    config: dict, work_dir: Path, run_dir: Path, seconds: float
) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(work_dir / "dataset_manifest.csv", run_dir / "dataset_manifest.csv")
    (run_dir / "git_revision.txt").write_text(git_revision() + "\n")
    (run_dir / "training.json").write_text(
        json.dumps({"train_seconds": round(seconds), "device": pick_device()}, indent=2)
    )


def run(config: dict) -> Path:
    """The whole pipeline; returns the shipped .pt path."""
    from training.evaluate import evaluate_and_report
    from training.export import export_onnx

    work_dir = Path(config["work_dir"])
    data_yaml, entries = build_dataset(config, work_dir)
    logger.info("Dataset: %d photos", len(entries))

    started = time.monotonic()
    best = fine_tune(config, data_yaml, work_dir)
    seconds = time.monotonic() - started

    output_dir = Path(config["output_dir"])
    output_dir.mkdir(parents=True, exist_ok=True)
    shipped = output_dir / f"{config['model_name']}.pt"
    shutil.copy(best, shipped)
    run_dir = output_dir / f"{config['model_name']}.run"
    write_run_record(config, work_dir, run_dir, seconds)
    if config.get("export", {}).get("onnx", True):
        export_onnx(shipped, config["train"]["imgsz"])
    evaluate_and_report(config, shipped, data_yaml, run_dir)
    return shipped


def config_from_args(description: str, argv: list[str] | None) -> dict:
    """Parse ``--config`` and ``key=value`` overrides; configure logging."""
    return parse_training_args(description, argv)[0]


def parse_training_args(
    description: str,
    argv: list[str] | None,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[dict, argparse.Namespace]:
    """:func:`config_from_args` for a command with options of its own
    (``add_options`` adds them); returns the config and the parsed arguments."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config", type=Path, default=Path("training/configs/default.yaml")
    )
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. train.epochs=1")
    if add_options is not None:
        add_options(parser)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return load_config(arguments.config, arguments.overrides), arguments


def main(argv: list[str] | None = None) -> None:
    run(config_from_args(__doc__.splitlines()[0], argv))


if __name__ == "__main__":
    main()

"""Evaluation of the trained detector on the test split (filled in below)."""

from __future__ import annotations

from pathlib import Path


def evaluate_and_report(config: dict, weights: Path, data_yaml: Path, run_dir: Path) -> None:
    return None

"""Satwa's configuration: one typed object read from ``SATWA_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Every setting of the service and the CLI; README.md lists each one.

    Built once at an entry point (app factory, CLI) and passed down; relative paths are
    taken from the working directory the service starts in.
    """

    model_config = SettingsConfigDict(env_prefix="SATWA_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/satwa.db",
        description="SQLAlchemy URL of the database: a SQLite file by default, or "
        "postgresql+psycopg://user@host:5432/name.",
    )
    evidence_dir: Path = Field(
        Path("./var/evidence"),
        description="Folder of the evidence store: original photo bytes by SHA-256.",
    )
    weights: Path = Field(
        Path("weights/satwa-detector.onnx"),
        description="Detector weights: .onnx runs on ONNX Runtime, .pt on Ultralytics.",
    )
    classifier_weights: Path | None = Field(
        Path("weights/satwa-classifier.onnx"),
        description="Second-stage crop classifier (app.pipeline.classify) that may "
        "relabel detections: .onnx runs on ONNX Runtime, a .pt head on PyTorch; empty "
        "to run the detector alone.",
    )
    taxonomy_path: Path = Field(
        Path("datasets/taxonomy.yaml"),
        description="Detector class -> catalogue keys (taxonomy.yaml).",
    )
    catalog_path: Path = Field(
        Path("datasets/catalog.csv"),
        description="The species catalogue with CITES, IUCN and Indonesian protection.",
    )
    confidence_threshold: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Detections below this confidence are dropped.",
    )
    iou_threshold: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="Overlap above which NMS keeps one box per class.",
    )
    inference_threads: int = Field(
        1,
        ge=0,
        description="ONNX Runtime threads per inference; 0 lets it choose. Keep "
        "scoring_workers x inference_threads near the number of cores.",
    )
    max_request_bytes: int = Field(
        25 * MIB,
        gt=0,
        description="Largest request body accepted, in bytes (413 above).",
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a request body may go without data before a 408 and "
        "a closed connection (a client that stops sending mid-upload); it limits "
        "silence, not the whole upload.",
    )
    max_photo_bytes: int = Field(
        10 * MIB, gt=0, description="Largest single photo accepted, in bytes."
    )
    max_pixels: int = Field(
        40_000_000,
        gt=0,
        description="Largest photo accepted, in pixels (width x height).",
    )
    max_photos_per_listing: int = Field(
        20, gt=0, description="Most photos accepted in one POST /v1/listings."
    )
    server_processes: int = Field(
        1,
        gt=0,
        description="Processes `satwa serve` runs, each with its own model and match "
        "index on the one database and evidence folder; up to the number of cores "
        "(Python runs one request step at a time per process; each process holds "
        "about 250 MB plus its match index).",
    )
    scoring_workers: int = Field(
        2,
        gt=0,
        description="Photos decoded and scored at once per process; more wait "
        "(bounds memory; about the number of cores).",
    )
    max_frames: int = Field(
        50,
        gt=0,
        description="Frames of an animated photo examined to find one with content.",
    )
    match_max_distance: int = Field(
        11,
        ge=0,
        le=64,
        description="Most pHash bits (of 64) two photos or regions may differ by and "
        "still count as the same content (benchmarks/matching_robustness.py "
        "calibrates it: the largest that keeps false matches at 1 in 10,000).",
    )
    network_min_link_weight: float = Field(
        0.5,
        gt=0,
        description="Least link weight that joins two accounts into a seller network: "
        "a photo shared by n accounts weighs 1/(n-1) per link, a shared contact "
        "number 1.",
    )
    host: str = Field("127.0.0.1", description="Address `satwa serve` listens on.")
    port: int = Field(
        8000, gt=0, lt=65536, description="Port `satwa serve` listens on."
    )
    log_level: str = Field(
        "INFO", description="Logging level of the service and the CLI."
    )

    @field_validator("classifier_weights", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

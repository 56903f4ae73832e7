"""Build the answer shapes (app.schemas) from pipeline results and stored rows."""

from __future__ import annotations

from collections.abc import Sequence

from app.catalog import Catalog
from app.errors import PhotoRejected
from app.pipeline.detect import Detection
from app.pipeline.scoring import RejectedPhoto, ScoredPhoto
from app.schemas import CatalogRef, DetectionOut, ModelRef, PhotoError, PhotoOut


def detection_out(
    catalog: Catalog,
    *,
    label: str,
    confidence: float,
    box: Sequence[float],
    stage: str,
    model_name: str,
    model_sha256: str,
) -> DetectionOut:
    return DetectionOut(
        label=label,
        confidence=confidence,
        box=list(box),
        stage=stage,
        catalog=[CatalogRef(**entry.summary()) for entry in catalog.for_label(label)],
        model=ModelRef(name=model_name, sha256=model_sha256),
    )


def pipeline_detection_out(catalog: Catalog, detection: Detection) -> DetectionOut:
    return detection_out(
        catalog,
        label=detection.label,
        confidence=detection.confidence,
        box=detection.box,
        stage=detection.stage,
        model_name=detection.model.name,
        model_sha256=detection.model.sha256,
    )


def error_out(error: PhotoRejected | dict) -> PhotoError:
    return PhotoError(**(error if isinstance(error, dict) else error.to_dict()))


FACT_FIELDS = ("media_type", "width", "height", "frame_count", "frame_index")
"""What decoding tells about a photo, named alike in PhotoOut, PhotoFacts and Photo."""


def photo_facts(source: object) -> dict[str, object]:
    """FACT_FIELDS of a stored Photo row or of a scored photo's PhotoFacts."""
    return {name: getattr(source, name) for name in FACT_FIELDS}


def scored_photo_out(catalog: Catalog, photo: ScoredPhoto) -> PhotoOut:
    """A photo scored without the database (``satwa scan``): no matches."""
    return PhotoOut(
        filename=photo.received.filename,
        sha256=photo.received.sha256,
        status="scored",
        **photo_facts(photo.decoded),
        phash=photo.phash,
        detections=[pipeline_detection_out(catalog, d) for d in photo.detections],
    )


def rejected_photo_out(photo: RejectedPhoto) -> PhotoOut:
    return PhotoOut(
        filename=photo.received.filename,
        sha256=photo.received.sha256,
        status="rejected",
        error=error_out(photo.error),
    )

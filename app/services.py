"""Build the long-lived parts of Satwa once per process from a Settings object."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.catalog import Catalog, load_catalog
from app.pipeline.detect import Detector, DetectorOptions, Refiner, load_detector
from app.pipeline.ingest import ListingIngest
from app.pipeline.matching import Matcher
from app.pipeline.scoring import PhotoScorer
from app.settings import Settings
from app.store.database import Database
from app.store.evidence import FileEvidenceStore

logger = logging.getLogger(__name__)


@dataclass
class Scoring:
    """What ``satwa scan`` needs: the catalogue and a photo scorer."""

    catalog: Catalog
    detector: Detector
    scorer: PhotoScorer


@dataclass
class Services:
    """Everything a request handler needs, shared by all requests of a process."""

    settings: Settings
    scoring: Scoring
    database: Database
    evidence: FileEvidenceStore
    matcher: Matcher
    ingest: ListingIngest

    def close(self) -> None:
        self.database.dispose()


def build_scoring(settings: Settings) -> Scoring:
    catalog = load_catalog(settings.taxonomy_path, settings.catalog_path)
    detector = load_detector(
        settings.weights,
        DetectorOptions(
            confidence_threshold=settings.confidence_threshold,
            iou_threshold=settings.iou_threshold,
            inference_threads=settings.inference_threads,
        ),
    )
    scorer = PhotoScorer(detector, settings, refiners=build_refiners(settings))
    return Scoring(catalog, detector, scorer)


def build_refiners(settings: Settings) -> list[Refiner]:
    """Second stages run after the detector: the crop classifier, unless turned off."""
    if settings.classifier_weights is None:
        return []
    from app.pipeline.classify import CropClassifier  # the second stage only when used

    return [
        CropClassifier.load(settings.classifier_weights, settings.inference_threads)
    ]


def build_services(settings: Settings) -> Services:
    """Load model, catalogue and match index; the schema must be migrated already."""
    scoring = build_scoring(settings)
    database = Database(settings.database_url)
    evidence = FileEvidenceStore(settings.evidence_dir)
    evidence.remove_partial_writes()
    matcher = Matcher(database.session, settings)
    matcher.load()
    ingest = ListingIngest(database, evidence, scoring.scorer, matcher, scoring.catalog)
    return Services(settings, scoring, database, evidence, matcher, ingest)

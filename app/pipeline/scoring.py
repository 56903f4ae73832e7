"""Score one photo: decode once, detect, refine, hash; the same pixels for every stage.

Used by the service (app.pipeline.ingest) and by ``satwa scan``; stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from app.errors import PhotoRejected
from app.pipeline.decode import DecodedPhoto, decode_photo
from app.pipeline.detect import Detection, Detector, Refiner
from app.pipeline.hashing import RegionHash, photo_hashes
from app.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedPhoto:
    """A photo as it came in: its file name, SHA-256, size and a way to read it.

    ``read`` returns the bytes (from memory or from the upload's spool file), so a
    listing's photos are held in memory one at a time. It is None when the photo was
    refused before being read (``refusal``).
    """

    filename: str
    sha256: str
    byte_size: int
    read: Callable[[], bytes] | None
    refusal: PhotoRejected | None = None

    @classmethod
    def from_bytes(cls, filename: str, data: bytes) -> ReceivedPhoto:
        return cls(filename, hashlib.sha256(data).hexdigest(), len(data), lambda: data)


@dataclass(frozen=True)
class PhotoFacts:
    """What decoding told about a photo (the pixels themselves are not kept)."""

    media_type: str
    width: int
    height: int
    frame_count: int
    frame_index: int

    @classmethod
    def of(cls, decoded: DecodedPhoto) -> PhotoFacts:
        return cls(
            decoded.media_type,
            decoded.width,
            decoded.height,
            decoded.frame_count,
            decoded.frame_index,
        )


@dataclass(frozen=True)
class ScoredPhoto:
    """What the pipeline found in one photo."""

    received: ReceivedPhoto
    decoded: PhotoFacts
    phash: str
    detections: list[Detection]
    hashes: list[RegionHash]


@dataclass(frozen=True)
class RejectedPhoto:
    """A photo that could not be scored, and why (the message names the file)."""

    received: ReceivedPhoto
    error: PhotoRejected


class PhotoScorer:
    """Decode -> detect -> refine (second stages) -> hash, for one photo at a time.

    Photos are scored on a pool of ``Settings.scoring_workers`` threads, so memory
    stays flat however many uploads arrive together (the others wait), and the
    detector's per-thread state exists in those threads only.
    """

    def __init__(
        self,
        detector: Detector,
        settings: Settings,
        refiners: Sequence[Refiner] = (),
    ) -> None:
        self.detector = detector
        self.refiners = tuple(refiners)
        self.max_pixels = settings.max_pixels
        self.max_frames = settings.max_frames
        self._workers = ThreadPoolExecutor(
            settings.scoring_workers, thread_name_prefix="satwa-scoring"
        )

    def score(
        self, received: ReceivedPhoto, keep: Callable[[bytes], object] | None = None
    ) -> ScoredPhoto | RejectedPhoto:
        """Score one photo; ``keep`` gets the bytes of a scored photo (to store them)
        while they are still in memory."""
        return self._workers.submit(self._score_now, received, keep).result()

    def score_all(
        self,
        photos: Sequence[ReceivedPhoto],
        keep: Callable[[ReceivedPhoto, bytes], object] | None = None,
    ) -> list[ScoredPhoto | RejectedPhoto]:
        """Score photos in parallel on the pool; results in the order given."""
        futures = [
            self._workers.submit(self._score_now, photo, keep and partial(keep, photo))
            for photo in photos
        ]
        return [future.result() for future in futures]

    def _score_now(
        self, received: ReceivedPhoto, keep: Callable[[bytes], object] | None
    ) -> ScoredPhoto | RejectedPhoto:
        if received.refusal is not None or received.read is None:
            assert received.refusal is not None
            return RejectedPhoto(received, _named(received, received.refusal))
        data = received.read()
        try:
            decoded = decode_photo(
                data, max_pixels=self.max_pixels, max_frames=self.max_frames
            )
        except PhotoRejected as error:
            logger.info("Rejected photo %s: %s", received.filename, error.code)
            return RejectedPhoto(received, _named(received, error))
        scored = self._score_decoded(received, decoded)
        if keep is not None:
            keep(data)
        return scored

    def _score_decoded(
        self, received: ReceivedPhoto, decoded: DecodedPhoto
    ) -> ScoredPhoto:
        detections = self.detector.detect(decoded.image)
        for refiner in self.refiners:
            detections = refiner.refine(decoded.image, detections)
        phash, hashes = photo_hashes(
            decoded.image, [detection.box for detection in detections]
        )
        return ScoredPhoto(received, PhotoFacts.of(decoded), phash, detections, hashes)


def _named(received: ReceivedPhoto, error: PhotoRejected) -> PhotoRejected:
    """The same error with the file name in front of its message."""
    if not error.message.startswith(f"{received.filename!r}: "):
        error.message = f"{received.filename!r}: {error.message}"
        error.args = (error.message,)
    return error

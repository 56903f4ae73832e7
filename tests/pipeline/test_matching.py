"""The Matcher on both databases: built at start, caught up across processes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import select

from app.pipeline.hashing import photo_phash, region_hashes
from app.pipeline.matching import Matcher, to_signed, to_unsigned
from app.settings import Settings
from app.store.database import Database
from app.store.models import Photo, PhotoHash, PhotoMatchRecord
from tests import reposts
from tests.factories import dataset_photos


@pytest.fixture(scope="module")
def pictures() -> list[Image.Image]:
    paths = dataset_photos("parrots4_kaggle_raw", 3, seed=8)
    return [Image.open(path).convert("RGB") for path in paths]


@pytest.fixture
def database(clean_database_url):
    database = Database(clean_database_url)
    yield database
    database.dispose()


def new_matcher(database: Database) -> Matcher:
    matcher = Matcher(database.session, Settings(database_url=database.url))
    matcher.load()
    return matcher


def ingest(database: Database, matcher: Matcher, sha256: str, image: Image.Image):
    """What app.pipeline.ingest does with one new photo: store in its transaction."""
    hashes = region_hashes(image, [])
    with database.writing() as session:
        session.add(photo_row(sha256, image))
        session.flush()
        matcher.store(session, sha256, hashes)
    return hashes


def photo_row(sha256: str, image: Image.Image) -> Photo:
    return Photo(
        sha256=sha256,
        media_type="image/jpeg",
        byte_size=1,
        width=image.width,
        height=image.height,
        frame_count=1,
        frame_index=0,
        phash=photo_phash(image),
        first_seen_at=datetime.now(UTC),
    )


def test_matcher_other_process_finds_photo_stored_by_first(database, pictures):
    writer, reader = new_matcher(database), new_matcher(database)
    ingest(database, writer, "a" * 64, pictures[0])

    matches = reader.find(region_hashes(reposts.mirrored(pictures[0]), []))
    assert [(m.photo_sha256, m.distance) for m in matches][:1] == [("a" * 64, 0)]


def test_matcher_load_builds_index_from_database(database, pictures):
    ingest(database, new_matcher(database), "b" * 64, pictures[1])

    restarted = new_matcher(database)
    assert len(restarted) > 0
    assert [m.photo_sha256 for m in restarted.find(region_hashes(pictures[1], []))] == [
        "b" * 64
    ]


def test_matcher_find_excludes_query_photo_and_unrelated_photos(database, pictures):
    matcher = new_matcher(database)
    hashes = ingest(database, matcher, "c" * 64, pictures[2])
    ingest(database, matcher, "d" * 64, pictures[0])

    assert matcher.find(hashes, exclude_sha256="c" * 64) == []


def test_matcher_store_records_match_with_distance_and_regions(database, pictures):
    matcher = new_matcher(database)
    ingest(database, matcher, "e" * 64, pictures[0])
    ingest(database, matcher, "f" * 64, reposts.phone_screenshot(pictures[0]))

    with database.session() as session:
        record = session.scalars(select(PhotoMatchRecord)).one()
    assert (record.photo_sha256, record.earlier_sha256) == ("f" * 64, "e" * 64)
    assert record.distance <= matcher.max_distance
    assert record.query_kind in {"inner", "corner"}  # both lie inside the chrome


def test_matcher_row_committed_late_with_lower_id_is_still_found(database, pictures):
    matcher = new_matcher(database)
    hashes = region_hashes(pictures[1], [])
    with database.writing() as session:
        session.add_all(
            [photo_row("1" * 64, pictures[1]), photo_row("2" * 64, pictures[2])]
        )
    # Another process's transaction took id 5 but commits after one that took id 9.
    insert_hash(database, 9, "2" * 64, region_hashes(pictures[2], [])[0].value)
    assert matcher.find(hashes) == []
    insert_hash(database, 5, "1" * 64, hashes[0].value)

    assert [m.photo_sha256 for m in matcher.find(hashes)] == ["1" * 64]


def insert_hash(database: Database, row_id: int, sha256: str, value: int) -> None:
    with database.writing() as session:
        session.add(
            PhotoHash(
                id=row_id,
                photo_sha256=sha256,
                kind="photo",
                mirrored=False,
                value=to_signed(value),
                algorithm="phash",
                hash_size=8,
                library="test",
                box=None,
            )
        )


@pytest.mark.parametrize("value", [0, 1, 2**63 - 1, 2**63, 2**64 - 1])
def test_to_signed_round_trip_keeps_64_bit_value(value):
    assert to_unsigned(to_signed(value)) == value
    assert -(2**63) <= to_signed(value) < 2**63

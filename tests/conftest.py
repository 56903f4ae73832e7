"""Shared fixtures: both databases, settings, the app and the loaded detector."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.settings import Settings
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Base
from tests.factories import REPO_ROOT

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """A migrated database of each kind, for the whole test session.

    SQLite: a file (never in-memory: threads must share it). PostgreSQL: a fresh
    schema in the database ``test``, dropped at the end.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "satwa.db"
        url = f"sqlite:///{path}"
        yield _migrated(url)
        return
    schema = f"satwa_test_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _migrated(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrated(url: str) -> str:
    database = Database(url)
    upgrade(database)
    database.dispose()
    return url


@pytest.fixture
def clean_database_url(database_url: str) -> Iterator[str]:
    """``database_url`` with every table emptied before the test."""
    database = Database(database_url)
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    database.dispose()
    yield database_url


@pytest.fixture
def settings(clean_database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=clean_database_url,
        evidence_dir=tmp_path / "evidence",
        weights=REPO_ROOT / "weights/satwa-detector.onnx",
        taxonomy_path=REPO_ROOT / "datasets/taxonomy.yaml",
        catalog_path=REPO_ROOT / "datasets/catalog.csv",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client

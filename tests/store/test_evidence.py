"""The evidence store: content addressing, atomic read-only writes, partial clean-up."""

from __future__ import annotations

import hashlib
import stat

import pytest

from app.errors import NotFound
from app.store.evidence import FileEvidenceStore
from tests.factories import bad_input


def test_evidence_put_stores_exact_bytes_under_sha256(tmp_path):
    store = FileEvidenceStore(tmp_path)
    data = bad_input("31a")
    sha256 = store.put(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert store.get(sha256) == data
    assert store.path(sha256) == tmp_path / sha256[:2] / sha256[2:4] / sha256


def test_evidence_put_makes_original_read_only(tmp_path):
    store = FileEvidenceStore(tmp_path)
    mode = store.path(store.put(b"photo bytes")).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_evidence_put_twice_keeps_first_file(tmp_path):
    store = FileEvidenceStore(tmp_path)
    sha256 = store.put(b"same")
    first = store.path(sha256).stat().st_mtime_ns
    assert store.put(b"same") == sha256
    assert store.path(sha256).stat().st_mtime_ns == first


def test_evidence_partial_writes_are_never_served_and_are_removed(tmp_path):
    store = FileEvidenceStore(tmp_path)
    sha256 = hashlib.sha256(b"whole photo").hexdigest()
    partial = store.path(sha256).parent / f".{sha256}.x1.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"whole ph")
    assert not store.contains(sha256)
    assert store.remove_partial_writes() == 1
    assert not partial.exists()


@pytest.mark.parametrize("photo_id", ["../../etc/passwd", "ABC", "0" * 63])
def test_evidence_get_non_sha256_id_is_not_found(tmp_path, photo_id):
    with pytest.raises(NotFound, match="SHA-256"):
        FileEvidenceStore(tmp_path).get(photo_id)

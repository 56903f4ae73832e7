"""The evidence store: original photo bytes, content-addressed by SHA-256.

Bytes are written once, atomically (a temporary file in the same folder, fsync, rename,
fsync of the folder) and then made read-only; nothing ever modifies or re-encodes them.
A crash mid-write leaves at most a ``.partial`` file, which is never served and is
removed at the next start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from app.errors import NotFound

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PARTIAL_SUFFIX = ".partial"


class EvidenceStore(Protocol):
    """Where original photo bytes live."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...

    def contains(self, sha256: str) -> bool: ...


class FileEvidenceStore:
    """Originals as files ``<root>/<ab>/<cd>/<sha256>`` on a local filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256)
        if not path.exists():
            _write_atomically(path, data)
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound(f"No original stored for photo {sha256}")
        return path.read_bytes()

    def contains(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound(
                f"Photo id {sha256[:80]!r} is not a SHA-256; expected 64 lowercase hex "
                "digits"
            )
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def remove_partial_writes(self) -> int:
        """Delete what interrupted writes left behind; returns how many."""
        partials = list(self.root.glob(f"*/*/*{_PARTIAL_SUFFIX}"))
        for partial in partials:
            partial.unlink(missing_ok=True)
        if partials:
            logger.info("Removed %s interrupted evidence writes", len(partials))
        return len(partials)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o444)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

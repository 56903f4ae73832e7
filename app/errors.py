"""Satwa's exceptions: one tree, HTTP status codes are chosen only in app.api.

    SatwaError
    ├── ConfigurationError      a setting points at something unusable
    ├── InvalidListing          a listing's form fields are missing or malformed
    ├── LimitExceeded           a request is over a size or count limit
    ├── NotFound                no such listing, photo, account
    └── PhotoRejected           one photo cannot be scored (the others still are)
        ├── EmptyPhoto
        ├── CorruptPhoto
        ├── UnsupportedMediaType
        └── PhotoOverLimit      (also a LimitExceeded)

Every error has a stable ``code`` that clients can branch on, and a message that names
what was expected, what came and which setting or fix applies.
"""

from __future__ import annotations


class SatwaError(Exception):
    """Root of every error Satwa raises on purpose."""

    code = "satwa_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


class ConfigurationError(SatwaError):
    code = "configuration_error"


class InvalidListing(SatwaError):
    code = "invalid_listing"


class NotFound(SatwaError):
    code = "not_found"


SHOWN_ID_CHARACTERS = 80


def shown(value: str) -> str:
    """A client-chosen id or name as quoted in an error message, cut to
    ``SHOWN_ID_CHARACTERS`` so a huge one is not echoed back whole."""
    if len(value) <= SHOWN_ID_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_ID_CHARACTERS]!r}... ({len(value):,} characters)"


class LimitExceeded(SatwaError):
    """A size or count over its limit; names the setting that raises the limit."""

    code = "limit_exceeded"

    def __init__(
        self, what: str, *, setting: str, limit: float, got: int | str
    ) -> None:
        super().__init__(f"{what}: got {got}, the limit is {limit} ({setting})")
        self.setting = setting
        self.limit = limit
        self.got = got

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "setting": self.setting, "limit": self.limit}


class BodyTooLarge(LimitExceeded):
    """A request body over its limit, found while it was still arriving."""


class BodyStalled(LimitExceeded):
    """The client stopped sending a request body it had not finished."""

    code = "body_stalled"


class PhotoRejected(SatwaError):
    """One photo of a listing cannot be scored; the listing's other photos still are."""

    code = "photo_rejected"


class EmptyPhoto(PhotoRejected):
    code = "empty_photo"


class CorruptPhoto(PhotoRejected):
    code = "corrupt_photo"


class UnsupportedMediaType(PhotoRejected):
    code = "unsupported_media_type"

    def __init__(self, message: str, *, media_type: str) -> None:
        super().__init__(message)
        self.media_type = media_type

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "media_type": self.media_type}


class PhotoOverLimit(LimitExceeded, PhotoRejected):
    """A photo over a per-photo limit (bytes, pixels)."""

    code = "photo_over_limit"

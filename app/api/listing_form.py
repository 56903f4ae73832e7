"""Read a POST /v1/listings multipart form into a ListingSubmission.

Uploads are parsed by Starlette's multipart parser, which spools each file to a
temporary file on disk past ``SPOOL_BYTES``, so a request's photos never sit in memory
at once;
each photo is read into memory only when its turn to be scored comes.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import NoReturn

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from app.errors import InvalidListing, LimitExceeded, PhotoOverLimit
from app.pipeline.ingest import ListingSubmission, platform_name
from app.pipeline.scoring import ReceivedPhoto
from app.settings import Settings

PHOTO_FIELD = "photos"
TEXT_FIELDS = {
    "platform": 64,
    "account": 255,
    "listing_url": 2048,
    "caption": 20_000,
    "posted_at": 64,
    "price": 64,
}
"""Every form field Satwa reads, with its maximum length in characters."""
REQUIRED = ("platform", "account", "listing_url")
PATH_FIELDS = ("platform", "account")
"""Fields that name an account in URL paths, so they may not contain '/'."""
_CHUNK = 1 << 20
_ALLOWED_CONTROLS = frozenset("\t\n\r")
SPOOL_BYTES = 256 * 1024
"""Bytes of an upload held in memory before it is spooled to disk (Starlette's default
is 1 MB): twenty uploads arriving at once then hold 5 MB, not 20 MB."""
_TAIL_BYTES = 4096
"""Bytes of the body kept to check that it ends with the closing boundary."""
_EARLIEST = "0001-01-01T00:00:00Z"
_LATEST = "9999-12-31T23:59:59Z"


async def read_listing_form(
    request: Request, settings: Settings
) -> tuple[ListingSubmission, FormData]:
    """The submission and the parsed form; close the form once the listing is done
    (the photos are read from its spool files while they are scored)."""
    form = await _parse(request, settings)
    try:
        return await _submission(form, settings), form
    except BaseException:
        await form.close()
        raise


async def _submission(form: FormData, settings: Settings) -> ListingSubmission:
    fields = _text_fields(form)
    uploads = [
        item for item in form.getlist(PHOTO_FIELD) if isinstance(item, UploadFile)
    ]
    if not uploads:
        raise InvalidListing(
            f"Listing has no photos; expected 1 to {settings.max_photos_per_listing} "
            f"files in the form field {PHOTO_FIELD!r}"
        )
    photos = [await _received(upload, settings.max_photo_bytes) for upload in uploads]
    return ListingSubmission(
        platform=fields["platform"],
        account=fields["account"],
        listing_url=fields["listing_url"],
        caption=fields.get("caption"),
        posted_at=_posted_at(fields.get("posted_at")),
        price=fields.get("price"),
        photos=photos,
    )


async def _parse(request: Request, settings: Settings) -> FormData:
    content_type = request.headers.get("content-type", "")
    media_type, options = parse_options_header(content_type)
    if media_type.lower() != b"multipart/form-data":
        raise InvalidListing(
            f"Request body is {content_type or 'untyped'!r}; expected "
            "multipart/form-data with the photos in the field 'photos'"
        )
    charset = options.get(b"charset", b"utf-8").decode("latin-1")
    if charset.lower().replace("-", "") != "utf8":
        raise InvalidListing(
            f"Request body declares charset {charset!r}; expected UTF-8 (text fields "
            "are read as UTF-8 only)"
        )
    closing = b"--" + options.get(b"boundary", b"") + b"--"
    parser = _ListingParser(
        request.headers,
        _ending_with(request.stream(), closing),
        max_files=settings.max_photos_per_listing,
        max_fields=len(TEXT_FIELDS) + 10,
    )
    try:
        return await parser.parse()
    except MultiPartException as error:
        _refuse_multipart(error, settings)


class _ListingParser(MultiPartParser):
    spool_max_size = SPOOL_BYTES

    def on_part_end(self) -> None:
        # Starlette decodes a text field that is not valid in its charset as Latin-1,
        # which would store mojibake without a word: refuse it instead.
        part = self._current_part
        if part.file is None:
            try:
                bytes(part.data).decode("utf-8")
            except UnicodeDecodeError as error:
                raise _UndecodableField(
                    f"Field {part.field_name!r} is not valid UTF-8 text ({error}); "
                    "send text fields as UTF-8"
                ) from error
        super().on_part_end()


class _IncompleteBody(MultiPartException):
    """The body ended before the multipart form's closing boundary."""


class _UndecodableField(MultiPartException):
    """A text field's bytes are not UTF-8 text."""


async def _ending_with(
    stream: AsyncIterator[bytes], closing: bytes
) -> AsyncIterator[bytes]:
    """Pass the body on; at its end, raise :class:`_IncompleteBody` unless its last
    ``_TAIL_BYTES`` hold ``closing``. The multipart parser takes a cut-off body for a
    whole one with fewer parts; raised from here, the error also makes the parser
    close the spool files of the parts it had begun."""
    tail = bytearray()
    async for chunk in stream:
        tail += chunk
        del tail[:-_TAIL_BYTES]
        yield chunk
    if closing not in tail:
        raise _IncompleteBody(
            "Multipart body is incomplete: it ends before its closing boundary "
            f"({closing.decode('latin-1')!r}); nothing was stored. Send the whole "
            "form again"
        )


def _refuse_multipart(error: MultiPartException, settings: Settings) -> NoReturn:
    if isinstance(error, _IncompleteBody | _UndecodableField):
        raise InvalidListing(error.message) from error
    if error.message.startswith("Too many files"):
        raise LimitExceeded(
            "Listing has too many photos",
            setting="SATWA_MAX_PHOTOS_PER_LISTING",
            limit=settings.max_photos_per_listing,
            got=f"more than {settings.max_photos_per_listing}",
        ) from error
    raise InvalidListing(f"Malformed multipart form: {error.message}") from error


def _text_fields(form: FormData) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, limit in TEXT_FIELDS.items():
        values = form.getlist(name)
        if len(values) > 1:
            raise InvalidListing(
                f"Field {name!r} is given {len(values)} times; expected it once"
            )
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            # The platform is checked as it is stored (NFKC: full-width '．' is '.').
            value = platform_name(value) if name == "platform" else value.strip()
            fields[name] = _printable(
                name, _bounded(name, value, limit), name in PATH_FIELDS
            )
    _check_path_fields(fields)
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise InvalidListing(
            f"Listing lacks the form fields {missing}; expected {list(REQUIRED)} "
            "(e.g. platform=facebook, account=seller handle, listing_url=https://...)"
        )
    return fields


def _check_path_fields(fields: dict[str, str]) -> None:
    for name in PATH_FIELDS:
        if fields.get(name) in (".", ".."):
            raise InvalidListing(
                f"Field {name!r} is {fields[name]!r}; expected a name, not a path step "
                f"('.' and '..' cannot be path segments of "
                "GET /v1/accounts/{platform}/{account})"
            )
        if "/" in fields.get(name, ""):
            raise InvalidListing(
                f"Field {name!r} is {fields[name]!r}; the character '/' is not "
                f"allowed in {' or '.join(PATH_FIELDS)} (they are path segments of "
                "GET /v1/accounts/{platform}/{account})"
            )


def _bounded(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidListing(
            f"Field {name!r} has {len(value)} characters; expected at most {limit}"
        )
    return value


def _printable(name: str, value: str, names_account: bool = False) -> str:
    """Refuse characters that hide what a field says or cannot be stored or exported:
    control characters (C0 and C1; PostgreSQL cannot store NUL), surrogates and
    Unicode non-characters (invalid in XML, so in GraphML exports). Tab and line
    breaks stay allowed, except in a platform or account name, which also may not
    hold invisible format characters (zero-width spaces, right-to-left overrides)."""
    hidden = next(
        (c for c in value if _is_hidden(c, allow_breaks=not names_account)), None
    )
    if hidden is not None:
        allowed = "" if names_account else " (tab and line breaks allowed)"
        raise InvalidListing(
            f"Field {name!r} contains the {_kind(hidden)} U+{ord(hidden):04X} at "
            f"position {value.index(hidden)}; expected printable text{allowed}"
        )
    return value


def _is_hidden(character: str, allow_breaks: bool) -> bool:
    category = unicodedata.category(character)
    if category == "Cc":
        return not (allow_breaks and character in _ALLOWED_CONTROLS)
    if category in ("Cs", "Zl", "Zp") or _is_noncharacter(character):
        return True
    return category == "Cf" and not allow_breaks


def _kind(character: str) -> str:
    kinds = {
        "Cc": "control character",
        "Cf": "invisible format character",
        "Cs": "surrogate",
        "Zl": "line separator",
        "Zp": "paragraph separator",
    }
    return kinds.get(unicodedata.category(character), "Unicode non-character")


def _is_noncharacter(character: str) -> bool:
    code = ord(character)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def safe_filename(filename: str) -> str:
    """An upload's file name as recorded: control and non-characters replaced by
    U+FFFD (a file name is a label, not evidence; PostgreSQL cannot store NUL)."""
    return "".join(
        "\ufffd" if _is_hidden(c, allow_breaks=False) else c for c in filename
    )


def _posted_at(value: str | None) -> datetime | None:
    """ISO 8601; a time without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidListing(
            f"Field 'posted_at' is {value!r}; expected an ISO 8601 date-time such as "
            "2026-12-04T09:30:00+07:00"
        ) from error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as error:
        raise InvalidListing(
            f"Field 'posted_at' is {value!r}, which falls outside the dates that can "
            f"be stored; expected a date-time from {_EARLIEST} to {_LATEST} in UTC"
        ) from error


async def _received(upload: UploadFile, max_photo_bytes: int) -> ReceivedPhoto:
    filename = safe_filename(upload.filename or "photo")
    size = upload.size if upload.size is not None else 0
    sha256 = await _sha256(upload)
    if size <= max_photo_bytes:
        return ReceivedPhoto(filename, sha256, size, partial(_read_spooled, upload))
    refusal = PhotoOverLimit(
        f"Photo is too large ({size:,} bytes)",
        setting="SATWA_MAX_PHOTO_BYTES",
        limit=max_photo_bytes,
        got=size,
    )
    return ReceivedPhoto(filename, sha256, size, None, refusal)


async def _sha256(upload: UploadFile) -> str:
    digest = hashlib.sha256()
    await upload.seek(0)
    while chunk := await upload.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _read_spooled(upload: UploadFile) -> bytes:
    """Read an upload's spool file from a worker thread (synchronous file access)."""
    upload.file.seek(0)
    return upload.file.read()

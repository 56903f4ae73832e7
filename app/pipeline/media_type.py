"""A photo's media type from its first bytes (magic numbers), never from its name."""

from __future__ import annotations

from app.errors import UnsupportedMediaType

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
ACCEPTED = ("JPEG", "PNG", "GIF", "WebP", "BMP", "TIFF", "HEIC", "AVIF")


def format_name(media_type: str) -> str:
    """``image/heic`` -> ``HEIC``: the name people know a format by."""
    names = {"image/webp": "WebP"}
    return names.get(media_type, media_type.removeprefix("image/").upper())


def sniff_media_type(data: bytes) -> str:
    """Return the image media type of ``data`` or raise UnsupportedMediaType."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return _iso_media_type(data)
    raise _unsupported(data)


def _iso_media_type(data: bytes) -> str:
    box_size = int.from_bytes(data[:4], "big")
    brands = {data[8:12]} | {
        data[offset : offset + 4] for offset in range(16, min(box_size, 64), 4)
    }
    if brands & _AVIF_BRANDS:
        return "image/avif"
    if brands & _HEIF_BRANDS:
        return "image/heic"
    raise UnsupportedMediaType(
        f"Photo is an ISO media file of brand {data[8:12]!r}, not a still image; "
        f"expected one of {', '.join(ACCEPTED)}",
        media_type="video/mp4",
    )


def _unsupported(data: bytes) -> UnsupportedMediaType:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        return UnsupportedMediaType(
            "Photo is an SVG vector drawing, not a photo; expected one of "
            f"{', '.join(ACCEPTED)}",
            media_type="image/svg+xml",
        )
    return UnsupportedMediaType(
        f"Photo bytes start with {data[:8]!r}, which is no image format Satwa reads; "
        f"expected one of {', '.join(ACCEPTED)}",
        media_type="application/octet-stream",
    )

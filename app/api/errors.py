"""HTTP status codes for Satwa's errors: chosen here and nowhere else."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.errors import (
    ConfigurationError,
    CorruptPhoto,
    EmptyPhoto,
    InvalidListing,
    LimitExceeded,
    NotFound,
    SatwaError,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

_STATUS = (
    (LimitExceeded, 413),
    (UnsupportedMediaType, 415),
    (EmptyPhoto, 422),
    (CorruptPhoto, 422),
    (InvalidListing, 422),
    (NotFound, 404),
    (ConfigurationError, 500),
)


def status_for(error: SatwaError) -> int:
    """The HTTP status of ``error``: the first matching class above, else 400."""
    for error_class, status in _STATUS:
        if isinstance(error, error_class):
            return status
    return 400


async def _satwa_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SatwaError)
    return JSONResponse({"error": error.to_dict()}, status_code=status_for(error))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SatwaError, _satwa_error)

"""HTTP status codes for Satwa's errors: chosen here and nowhere else."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.errors import (
    BodyStalled,
    BodyTooLarge,
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
    (BodyStalled, 408),
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


_BODY_LEFT_UNREAD = (BodyStalled, BodyTooLarge)
"""Errors answered before the request body was all read: the connection is closed
after the answer, or the rest of the body (or a stalled client) would hold it."""


async def _satwa_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SatwaError)
    closing = isinstance(error, _BODY_LEFT_UNREAD)
    return JSONResponse(
        {"error": error.to_dict()},
        status_code=status_for(error),
        headers={"connection": "close"} if closing else None,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Errors the router raises itself (unknown route, wrong method) in Satwa's
    shape, so that every error body is {"error": {"code", "message"}}."""
    assert isinstance(error, StarletteHTTPException)
    code, message = _http_error_text(request, error)
    return _error_answer(code, message, error.status_code, error.headers)


def _http_error_text(
    request: Request, error: StarletteHTTPException
) -> tuple[str, str]:
    route = f"{request.method} {request.url.path}"
    if error.status_code == 404:
        return "not_found", f"No such route: {route}; the routes are listed at /docs"
    if error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        return "method_not_allowed", (
            f"Method {request.method} is not allowed on {request.url.path}; "
            f"expected one of: {allowed or 'see /docs'}"
        )
    return "http_error", f"{route}: {error.detail}"


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [_validation_problem(problem) for problem in error.errors()]
    return _error_answer("invalid_request", "; ".join(problems), 422)


def _validation_problem(problem: dict) -> str:
    """'Query parameter 'format' is 'xml'; String should match pattern ...'."""
    where, *names = [str(part) for part in problem.get("loc") or ("request",)]
    name = ".".join(names) or where
    got = f" is {problem['input']!r}" if "input" in problem else ""
    return f"{where.capitalize()} parameter {name!r}{got}: {problem.get('msg')}"


async def _client_gone(request: Request, error: Exception) -> JSONResponse:
    """A client that hung up mid-body is routine (one INFO line), not a server error
    with a traceback; the answer goes nowhere but closes the exchange."""
    assert isinstance(error, ClientDisconnect)
    logger.info(
        "Client left before sending the whole body of %s %s",
        request.method,
        request.url.path,
    )
    message = "The client disconnected before sending the whole request body"
    return _error_answer("client_disconnected", message, 400, {"connection": "close"})


def _error_answer(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Satwa's error shape for errors that are not SatwaErrors."""
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SatwaError, _satwa_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

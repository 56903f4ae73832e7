"""Refuse request bodies over SATWA_MAX_REQUEST_BYTES as early as possible, and
bodies whose client stops sending for SATWA_BODY_TIMEOUT_S."""

from __future__ import annotations

import asyncio
import json

from app.errors import BodyStalled, BodyTooLarge

SETTING = "SATWA_MAX_REQUEST_BYTES"
TIMEOUT_SETTING = "SATWA_BODY_TIMEOUT_S"


class BodyLimitMiddleware:
    """ASGI middleware: 413 from the Content-Length header before reading the body;
    for bodies without one, 413 as soon as the bytes received pass the limit. A body
    whose next piece does not come within ``timeout_s`` gets a 408: a client that
    promises more bytes than it sends does not hold a connection and its spool files
    for good."""

    def __init__(self, app, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, self._error(declared))
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive):
        received = 0
        complete = False

        async def counted_receive():
            nonlocal received, complete
            if complete:  # after the body, only a disconnect can come: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                raise BodyStalled(
                    "Request body stalled (seconds without data)",
                    setting=TIMEOUT_SETTING,
                    limit=self.timeout_s,
                    got=f"more than {self.timeout_s:g}",
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise self._error(f"more than {self.max_bytes}")
            return message

        return counted_receive

    def _error(self, got: int | str) -> BodyTooLarge:
        return BodyTooLarge(
            "Request body is too large (bytes)",
            setting=SETTING,
            limit=self.max_bytes,
            got=got,
        )


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send, error: BodyTooLarge) -> None:
    body = json.dumps({"error": error.to_dict()}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

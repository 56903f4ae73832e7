"""Refuse request bodies over SATWA_MAX_REQUEST_BYTES as early as possible."""

from __future__ import annotations

import json

from app.errors import LimitExceeded

SETTING = "SATWA_MAX_REQUEST_BYTES"


class BodyLimitMiddleware:
    """ASGI middleware: 413 from the Content-Length header before reading the body;
    for bodies without one, 413 as soon as the bytes received pass the limit."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error(f"more than {self.max_bytes}")
            return message

        return counted_receive

    def _error(self, got: int | str) -> LimitExceeded:
        return LimitExceeded(
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


async def _send_413(send, error: LimitExceeded) -> None:
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

"""Request-body size limit as plain ASGI middleware: a clear 413 before or while the upload streams."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    """Raised inside the app's receive when the body passes the limit."""


def too_large_message(max_bytes: int) -> str:
    """The one line the page shows for an oversized upload."""
    return (
        f"the upload is larger than the {max_bytes / 1e6:g} MB limit "
        "(start the server with --max-upload-mb to change it)"
    )


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413 and a JSON `detail`.

    A declared Content-Length over the limit is refused before any byte is read; a body without
    one (chunked) is counted as it arrives, and the app's response to the aborted read is replaced
    by the 413, so a lying or streaming client cannot get past the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, shown_bytes: int | None = None) -> None:
        # shown_bytes: the limit named in the message (the file limit, without multipart framing)
        self.app, self.max_bytes = app, int(max_bytes)
        self.shown_bytes = int(shown_bytes if shown_bytes is not None else max_bytes)

    async def _send_413(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_message(self.shown_bytes)}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._send_413(send)
            return
        seen, over, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app answers to the aborted read becomes the 413
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._send_413(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:  # noqa: BLE001 - the read abort may arrive wrapped (an exception group)
            if not over:
                raise
            if not started:
                await self._send_413(send)

"""Browser-side guards as plain ASGI middleware: an allow-list of Host names (DNS rebinding) and a
same-origin check for requests that change state (cross-site uploads, CSRF).

A page on another site can make the coach's browser send requests to the local server; the browser
then names that site's host in `Host` (rebinding) or in `Origin`/`Referer`/`Sec-Fetch-Site`.
Scripts and curl send none of the origin headers and are let through (they are not a browser).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def host_name(host: str) -> str:
    """'localhost:8000' -> 'localhost', '[::1]:8000' -> '::1' (lower case)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class BrowserGuard:
    """400 for a Host outside `allowed_hosts` ("*": any), 403 for a cross-origin unsafe request."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = LOOPBACK_NAMES) -> None:
        self.app = app
        self.allowed = {host_name(h) for h in allowed_hosts}

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def problem(self, method: str, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        """(status, one-line detail) when the request must be refused, else None."""
        host = headers.get(b"host", b"").decode("latin-1")
        if "*" not in self.allowed and host_name(host) not in self.allowed:
            shown = host_name(host) or "(none)"
            return 400, (
                f"host {shown!r} is not allowed (this server answers to "
                f"{', '.join(sorted(self.allowed))}; start it with --allow-host to add a name)"
            )
        if method in SAFE_METHODS:
            return None
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if site and site not in ("same-origin", "none"):
            return 403, f"cross-origin request refused ({site})"
        for name in (b"origin", b"referer"):
            value = headers.get(name)
            if value is None:
                continue
            netloc = urlsplit(value.decode("latin-1")).netloc.lower()
            if netloc != host.lower():
                shown = value.decode("latin-1")[:100]
                return 403, f"cross-origin request refused ({name.decode()} {shown})"
            break  # Origin decides when present; Referer only without it
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        bad = self.problem(scope["method"], headers)
        if bad is not None:
            await self._refuse(send, *bad)
            return
        await self.app(scope, receive, send)

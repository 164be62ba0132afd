"""A stand-in for one Letta task behind the rehearsal's front: a bare ASGI app that answers every request with the
client port of the connection it arrived on, so a test sees whether two requests shared one connection.

Run it the way `letta server` runs uvicorn, with the keep-alive the task sets (LETTA_UVICORN_TIMEOUT_KEEP_ALIVE):

    <letta venv>/bin/python -m uvicorn tests.support.keep_alive_backend:app --port P --timeout-keep-alive S
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers 200 with `<client port>` of the connection the request came on."""
    if scope["type"] != "http":
        return
    body = str(scope["client"][1]).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

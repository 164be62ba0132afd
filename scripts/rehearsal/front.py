"""A round-robin HTTP front on loopback standing in for the ALB of a two-task service (rehearsal only).

Each request goes to the next Letta instance in turn, streamed both ways (SSE passes through chunk by chunk),
and the answer carries ``X-Served-By: <instance index>`` so a test can show which instance served it. Like an
ALB without stickiness, it keeps no affinity: that is the point of the rehearsal. Like the ALB, it keeps idle
connections open for the load balancer's idle timeout on both sides (clients to it, it to the instances), so a
target that closes them sooner shows here as it would behind the ALB. Runs with the Letta venv's Python
(Starlette, httpx and uvicorn are pinned there):

    <letta venv>/bin/python -m scripts.rehearsal.front --port <port> http://127.0.0.1:P1 http://127.0.0.1:P2
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from typing import Any

from stacks.letta_contract import LOAD_BALANCER_IDLE_TIMEOUT_SECONDS

SERVED_BY = "X-Served-By"
# Hop-by-hop headers (RFC 9110 7.6.1) and those the two HTTP stacks compute themselves.
_SKIP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade", "te", "trailer"}
_SKIP |= {"date", "server"}


def create_app(backends: Sequence[str], *, idle_timeout: float = LOAD_BALANCER_IDLE_TIMEOUT_SECONDS) -> Any:
    """The Starlette application proxying every path to `backends` in turn, reusing an idle connection to an
    instance for up to `idle_timeout` seconds, as the ALB does with its targets."""
    import httpx
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    turns = itertools.cycle(range(len(backends)))
    # No read timeout: a streamed Letta answer may stay quiet for a while between events.
    limits = httpx.Limits(max_connections=200, keepalive_expiry=idle_timeout)
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), limits=limits)

    async def proxy(request: Request) -> Response:
        index = next(turns)
        upstream = client.build_request(
            request.method,
            backends[index] + request.url.path,
            params=request.query_params,
            headers=[(k, v) for k, v in request.headers.items() if k.lower() not in _SKIP],
            content=await request.body(),
        )
        try:
            answer = await client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            return Response(f"front: instance {index} unreachable: {exc}", 502, {SERVED_BY: str(index)})
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _SKIP} | {SERVED_BY: str(index)}
        return StreamingResponse(
            answer.aiter_raw(), answer.status_code, headers, background=BackgroundTask(answer.aclose)
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)], on_shutdown=[client.aclose])


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the front on 127.0.0.1 until SIGTERM/SIGINT."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Round-robin front for the two-instance rehearsal.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=LOAD_BALANCER_IDLE_TIMEOUT_SECONDS,
        help=f"seconds an idle connection stays open (default: the ALB's, {LOAD_BALANCER_IDLE_TIMEOUT_SECONDS})",
    )
    parser.add_argument("backends", nargs="+", help="instance base URLs, e.g. http://127.0.0.1:8300")
    args = parser.parse_args(argv)
    print(f"front: http://127.0.0.1:{args.port} -> {' '.join(args.backends)} (round robin)", flush=True)
    # An open stream must not hold `down` for long: a stopping front waits 2 s, then cuts its connections.
    app = create_app([b.rstrip("/") for b in args.backends], idle_timeout=args.idle_timeout)
    # uvicorn's own default closes an idle client connection after 5 s; the ALB keeps it for its idle timeout.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=int(args.idle_timeout),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

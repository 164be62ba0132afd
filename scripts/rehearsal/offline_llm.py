"""Offline, OpenAI-compatible ECHO endpoint for the local rehearsal: NOT a language model.

Chat completions answer ``Echo: <the last user message>`` (JSON, or SSE when ``stream``; tools ignored);
embeddings are deterministic hashed bags of words (shared words, similar vectors; nothing semantic). Letta
0.16.8 lists ``GET /v1/models`` ids as ``openai-proxy/<id>`` and takes embedding handles from a fixed list.
It runs on FastAPI/uvicorn in the Letta venv: ``<letta venv>/bin/python -m scripts.rehearsal.offline_llm``.

Shaped by Letta: the port stays with the database (Letta keeps the ``OPENAI_BASE_URL`` it first saw), and
every answer closes its connection (with keep-alive, 6 of 10 messages stalled ~60 s inside Letta). The pure
functions need only the standard library (the project venv tests them). No ``from __future__ import
annotations``: FastAPI reads the routes' annotations at run time.
"""

import argparse
import base64
import hashlib
import json
import math
import re
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

ECHO_MODEL = "echo-1"
"""Id of the chat model (Letta lists it as ``openai-proxy/echo-1``)."""
EMBEDDING_DIMS = {"text-embedding-3-small": 1536, "text-embedding-ada-002": 1536, "text-embedding-3-large": 3072}
DEFAULT_PORT = 8399
"""Keep it stable across restarts of Letta on the same database."""
ECHO_PREFIX = "Echo: "
OWNED_BY = "offline-echo"
_WORD = re.compile(r"[0-9a-z]+")


def message_text(content: Any) -> str:
    """The text of an OpenAI chat message ``content`` (a string or a list of parts)."""
    if isinstance(content, list):
        return "\n".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content if p)
    return "" if content is None else str(content)


def echo_reply(messages: Sequence[dict[str, Any]]) -> str:
    """``Echo: `` + the text of the last ``user`` message (or a fixed line when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = message_text(message.get("content")).strip()
            if text:
                return ECHO_PREFIX + text
    return ECHO_PREFIX + "(no user message)"


def embed_text(text: str, dim: int = 1536) -> list[float]:
    """A deterministic unit vector for ``text``: each lower-cased word adds +/-1 at four positions chosen by
    its SHA-256, so texts sharing words have a positive cosine similarity."""
    if dim < 1:
        raise ValueError("dim must be >= 1")
    vector = [0.0] * dim
    for word in _WORD.findall(text.lower()) or ["<empty>"]:
        digest = hashlib.sha256(word.encode()).digest()
        for i in range(4):
            chunk = int.from_bytes(digest[i * 8 : (i + 1) * 8], "big")
            vector[chunk % dim] += 1.0 if chunk >> 63 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # every contribution cancelled out: a fixed direction
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)  # rough: only the `usage` fields need it


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` for a request body."""
    reply = echo_reply(body["messages"])
    prompt, answer = _tokens(json.dumps(body["messages"])), _tokens(reply)
    return {
        "id": f"chatcmpl-echo-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or ECHO_MODEL),
        "system_fingerprint": OWNED_BY,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer},
    }


def stream_events(body: dict[str, Any]) -> Iterator[str]:
    """The SSE events of a streamed completion: role, one chunk per word, stop, [usage], ``[DONE]``."""
    whole = completion(body)
    head = {k: whole[k] for k in ("id", "created", "model", "system_fingerprint")} | {"object": "chat.completion.chunk"}

    def event(delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return f"data: {json.dumps(head | {'choices': [choice]})}\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    for i, word in enumerate(whole["choices"][0]["message"]["content"].split(" ")):
        yield event({"content": word if i == 0 else " " + word}, None)
    yield event({}, "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield f"data: {json.dumps(head | {'choices': [], 'usage': whole['usage']})}\n\n"
    yield "data: [DONE]\n\n"


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``embeddings`` answer; ValueError for an input it cannot read."""
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw:
        texts = [" ".join(map(str, raw))] if all(isinstance(x, int) for x in raw) else [str(x) for x in raw]
    else:
        raise ValueError("'input' must be a string or a non-empty list.")
    model = str(body.get("model") or "text-embedding-3-small")
    dim = body.get("dimensions") or EMBEDDING_DIMS.get(model, 1536)
    if not isinstance(dim, int) or dim < 1:
        raise ValueError("'dimensions' must be a positive integer.")
    data = []
    for index, text in enumerate(texts):
        vector: Any = embed_text(text, dim)
        if body.get("encoding_format") == "base64":  # the OpenAI SDK's default
            vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(_tokens(t) for t in texts)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def create_app() -> Any:
    """The FastAPI application (imported here: FastAPI lives in the Letta venv only)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI(title="offline echo LLM (not a language model)")
    card = {"id": ECHO_MODEL, "object": "model", "created": 0, "owned_by": OWNED_BY}

    @app.exception_handler(ValueError)  # bad JSON too: JSONDecodeError is a ValueError
    async def bad_request(_request: Request, exc: ValueError) -> JSONResponse:
        kind = "invalid_request_error"
        return JSONResponse({"error": {"message": str(exc), "type": kind, "param": None, "code": kind}}, 400)

    @app.middleware("http")
    async def close_connections(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["Connection"] = "close"  # see the module docstring: keep-alive stalls Letta
        response.headers["X-Offline-LLM"] = "echo"
        return response

    async def json_body(request: Request) -> dict[str, Any]:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("Request body must be a JSON object.")
        return body

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await json_body(request)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ValueError("'messages' must be a non-empty list.")
        return (
            StreamingResponse(stream_events(body), media_type="text/event-stream")
            if body.get("stream")
            else completion(body)
        )

    @app.post("/v1/embeddings")
    async def embed(request: Request) -> Any:
        return embeddings(await json_body(request))

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the echo endpoint on loopback until SIGTERM/SIGINT."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Offline OpenAI-compatible echo endpoint (not an LLM).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    args = parser.parse_args(argv)
    print(f"offline-llm: http://127.0.0.1:{args.port}/v1 (echo model {ECHO_MODEL!r}, not an LLM)", flush=True)
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Offline, OpenAI-compatible ECHO model for the local rehearsal (stdlib only).

This is NOT a language model. It lets the real Letta server run end to end on a machine without
internet access: every chat completion answers ``Echo: <the last user message>`` and every embedding
is a deterministic hashed bag-of-words vector (texts sharing words get similar vectors, so archival
search ranks sensibly, but nothing here is semantic).

Endpoints (all under ``/v1``), what Letta 0.16.8 calls with ``OPENAI_BASE_URL`` pointing here:

- ``GET  /v1/models`` and ``GET /v1/models/{id}``: only the echo chat model. Letta turns every id
  listed here into an LLM handle ``openai-proxy/<id>`` (embedding ids included), and takes its
  embedding handles (``openai/text-embedding-3-small`` ...) from a fixed list instead, so the
  embedding models are served but not listed.
- ``POST /v1/chat/completions``: non-streaming JSON, or Server-Sent Events when ``"stream": true``
  (with a final usage chunk when ``stream_options.include_usage`` is set). Tools in the request are
  accepted and ignored: the answer is always plain assistant text, ``finish_reason: "stop"``.
- ``POST /v1/embeddings``: ``input`` as a string or a list of strings (token arrays are hashed as
  text), ``encoding_format`` ``float`` or ``base64`` (the OpenAI SDK asks for base64 by default),
  dimension from ``dimensions`` or the model (1536, 3072 for ``text-embedding-3-large``).

Use it in-process::

    with OfflineLLM() as llm:
        print(llm.base_url)  # http://127.0.0.1:<port>/v1

or as a process: ``python -m scripts.rehearsal.offline_llm`` (port 8399 by default; prints one
line ``offline-llm listening on http://127.0.0.1:8399/v1 ...`` when ready; stops on SIGTERM/SIGINT).

Two behaviours of Letta 0.16.8 shape this endpoint:

- Keep the port stable for a database that outlives the server: Letta stores the ``openai``
  provider with the ``OPENAI_BASE_URL`` it saw at its FIRST start and never updates it, so after a
  port change agents' LLM calls still go to the old URL ("Failed to connect to OpenAI").
  :data:`DEFAULT_PORT` is that stable port.
- Responses close the connection (``Connection: close``) unless ``keep_alive=True``: with
  keep-alive, messages stalled ~60 s inside Letta after the echo had answered (a database connect
  waiting on a reused file descriptor once Letta dropped its idle LLM connection): 6 of 10
  messages on a fresh server with keep-alive, 0 of 10 without.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import signal
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

ECHO_MODEL = "echo-1"
"""Id of the chat model this endpoint serves (Letta lists it as ``openai-proxy/echo-1``)."""

EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
    "text-embedding-3-large": 3072,
}
"""Embedding models served and their default dimensions (the OpenAI ones Letta 0.16.8 knows)."""

DEFAULT_PORT = 8399
"""Port of the command line; keep it stable across restarts of Letta on the same database."""
DEFAULT_EMBEDDING_DIM = 1536
ECHO_PREFIX = "Echo: "
OWNED_BY = "offline-echo"
_WORD = re.compile(r"[0-9a-z]+")
_LISTED_MODELS: tuple[str, ...] = (ECHO_MODEL,)


def message_text(content: Any) -> str:
    """Return the text of an OpenAI chat message ``content`` (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


def echo_reply(messages: Sequence[dict[str, Any]]) -> str:
    """Build the echo answer: ``Echo: `` + the text of the last ``user`` message (or a fixed line)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = message_text(message.get("content")).strip()
            if text:
                return ECHO_PREFIX + text
    return ECHO_PREFIX + "(no user message)"


def embed_text(text: str, dim: int = DEFAULT_EMBEDDING_DIM) -> list[float]:
    """Return a deterministic unit vector of ``dim`` floats for ``text`` (hashed bag of words).

    Each lower-cased word adds +/-1 at four positions chosen by SHA-256 of the word, so texts that
    share words have a positive cosine similarity. Text without words maps to a fixed vector.
    """
    if dim < 1:
        raise ValueError("dim must be >= 1")
    vector = [0.0] * dim
    words = _WORD.findall(text.lower()) or ["<empty>"]
    for word in words:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        for i in range(4):
            chunk = int.from_bytes(digest[i * 8 : (i + 1) * 8], "big")
            vector[chunk % dim] += 1.0 if (chunk >> 63) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # all contributions cancelled out: fall back to a fixed direction
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def _estimate_tokens(text: str) -> int:
    """Rough token count (4 characters a token), for the ``usage`` fields only."""
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    """Request handler; the owning :class:`OfflineLLM` is reached through ``self.server.owner``."""

    protocol_version = "HTTP/1.1"
    server_version = "OfflineEchoLLM/1"

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def owner(self) -> OfflineLLM:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        if self.owner.verbose:
            stamp = time.strftime("%H:%M:%S")
            sys.stderr.write(f"offline-llm {stamp}: {self.address_string()} {format % args}\n")

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Offline-LLM", "echo")
        self._end_headers()
        self.wfile.write(data)

    def _end_headers(self) -> None:
        """Finish the headers; without keep-alive, tell the client the connection closes."""
        if not self.owner.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _error(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        self._send_json(status, {"error": {"message": message, "type": code, "param": None, "code": code}})

    def _authorized(self) -> bool:
        expected = self.owner.api_key
        if expected is None:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {expected}":
            return True
        self._error(401, "Incorrect API key provided to the offline echo endpoint.", "invalid_api_key")
        return False

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "Request body is not valid JSON.")
            return None
        if not isinstance(body, dict):
            self._error(400, "Request body must be a JSON object.")
            return None
        self.owner.record(self.path, body)
        return body

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[len("/v1") :] if path.startswith("/v1") else path

    # -- verbs ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._authorized():
            return
        route = self._route()
        if route == "/models":
            self._send_json(200, {"object": "list", "data": [_model_card(m) for m in _LISTED_MODELS]})
        elif route.startswith("/models/") and route[len("/models/") :] in _LISTED_MODELS:
            self._send_json(200, _model_card(route[len("/models/") :]))
        elif route in ("", "/health"):
            self._send_json(200, {"status": "ok", "model": ECHO_MODEL, "kind": "offline echo, not an LLM"})
        else:
            self._error(404, f"Unknown path {self.path}", "not_found")

    def do_POST(self) -> None:
        if not self._authorized():
            return
        route = self._route()
        if route not in ("/chat/completions", "/embeddings"):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self._error(404, f"Unknown path {self.path} (served: chat/completions, embeddings)", "not_found")
            return
        body = self._read_json()
        if body is None:
            return
        if route == "/chat/completions":
            self._chat(body)
        else:
            self._embeddings(body)

    # -- endpoints ------------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._error(400, "'messages' must be a non-empty list.")
            return
        model = str(body.get("model") or ECHO_MODEL)
        reply = echo_reply(messages)
        prompt_tokens = _estimate_tokens(json.dumps(messages))
        completion_tokens = _estimate_tokens(reply)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = f"chatcmpl-echo-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": OWNED_BY,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Offline-LLM", "echo")
        self._end_headers()
        for event in _stream_events(completion_id, created, model, reply, usage if include_usage else None):
            self._write_chunk(event)
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        raw_input = body.get("input")
        if isinstance(raw_input, str):
            texts = [raw_input]
        elif isinstance(raw_input, list) and raw_input:
            if all(isinstance(x, int) for x in raw_input):  # one pre-tokenized input
                texts = [" ".join(str(x) for x in raw_input)]
            else:
                texts = [x if isinstance(x, str) else " ".join(str(t) for t in x) for x in raw_input]
        else:
            self._error(400, "'input' must be a string or a non-empty list.")
            return
        model = str(body.get("model") or "text-embedding-3-small")
        dim = body.get("dimensions") or EMBEDDING_DIMS.get(model, DEFAULT_EMBEDDING_DIM)
        if not isinstance(dim, int) or dim < 1:
            self._error(400, "'dimensions' must be a positive integer.")
            return
        as_base64 = body.get("encoding_format") == "base64"
        data: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dim)
            embedding: Any = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii") if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(_estimate_tokens(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _model_card(model_id: str) -> dict[str, Any]:
    """An OpenAI ``model`` object."""
    return {"id": model_id, "object": "model", "created": 0, "owned_by": OWNED_BY}


def _stream_events(
    completion_id: str, created: int, model: str, reply: str, usage: dict[str, int] | None
) -> Iterator[bytes]:
    """SSE events of a streamed chat completion: role, text pieces, stop, [usage], ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None, with_choices: bool = True) -> bytes:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": OWNED_BY,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if with_choices
            else [],
        }
        if usage is not None:
            payload["usage"] = None
        return f"data: {json.dumps(payload)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""}, None)
    words = reply.split(" ")
    for i, word in enumerate(words):
        yield chunk({"content": word if i == 0 else " " + word}, None)
    yield chunk({}, "stop")
    if usage is not None:
        final: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": OWNED_BY,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(final)}\n\n".encode()
    yield b"data: [DONE]\n\n"


class OfflineLLM:
    """A threaded OpenAI-compatible echo server on loopback; start/stop it or use it as a context.

    Args:
        host: address to bind (loopback only by design).
        port: TCP port; 0 picks a free one (read :attr:`port` after :meth:`start`).
        api_key: when set, requests must send ``Authorization: Bearer <api_key>``.
        verbose: log each request line to stderr.
        record_requests: keep the JSON bodies of POST requests in :attr:`requests` (for tests).
        keep_alive: keep HTTP/1.1 connections open between requests. Off by default: every
            response says ``Connection: close``. With keep-alive on, Letta 0.16.8 (which drops its
            OpenAI client after each call) was seen stalling ~60 s per message, a database
            connect waiting on a reused file descriptor.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        verbose: bool = False,
        record_requests: bool = False,
        keep_alive: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.api_key = api_key
        self.verbose = verbose
        self.record_requests = record_requests
        self.keep_alive = keep_alive
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (only valid once started)."""
        if self._httpd is None:
            raise RuntimeError("offline LLM is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL``: ``http://<host>:<port>/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def record(self, path: str, body: dict[str, Any]) -> None:
        """Remember a request body when ``record_requests`` is on."""
        if self.record_requests:
            with self._lock:
                self.requests.append((path, body))

    def start(self) -> OfflineLLM:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer((self.host, self._requested_port), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="offline-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or SIGTERM/SIGINT in :func:`main`)."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> OfflineLLM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: serve the echo endpoint until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port, 0 for a free one (default %(default)s)")
    parser.add_argument("--api-key", default=None, help="require this bearer token (default: accept any)")
    parser.add_argument("--port-file", type=Path, default=None, help="write the bound port to this file")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument("--keep-alive", action="store_true", help="keep connections open (see module doc)")
    args = parser.parse_args(argv)

    llm = OfflineLLM(
        args.host, args.port, api_key=args.api_key, verbose=args.verbose, keep_alive=args.keep_alive
    ).start()

    def _stop(signum: int, _frame: object) -> None:
        threading.Thread(target=llm.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.port_file is not None:
        args.port_file.write_text(f"{llm.port}\n", encoding="utf-8")
    print(f"offline-llm listening on {llm.base_url} (echo model {ECHO_MODEL!r}, not an LLM)", flush=True)
    llm.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

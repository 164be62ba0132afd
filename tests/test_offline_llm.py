"""The offline echo endpoint: the pure functions here, the HTTP surface as the rehearsal runs it (FastAPI on
uvicorn, in the Letta venv's Python, as a process that stops on SIGTERM)."""

from __future__ import annotations

import base64
import json
import math
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.rehearsal.letta_install import LettaVenv, venv_dir
from scripts.rehearsal.offline_llm import ECHO_MODEL, echo_reply, embed_text
from scripts.rehearsal.processes import free_port, port_busy

ROOT = Path(__file__).resolve().parents[1]
USER_TEXT = "Hello! Can you remember that my favorite color is blue?"
VENV = LettaVenv(venv_dir())


@pytest.fixture(scope="module", name="base_url")
def served_echo() -> Iterator[str]:
    if not VENV.python.exists():
        pytest.skip("the Letta venv is not built yet (`python -m scripts.rehearsal.letta_install`)")
    port = free_port()
    process = subprocess.Popen(
        [str(VENV.python), "-m", "scripts.rehearsal.offline_llm", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not port_busy(port):
        assert process.poll() is None and time.monotonic() < deadline, "the echo did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/v1"
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert not port_busy(port)


def post(url: str, body: Any, raw: bytes | None = None) -> tuple[int, Any, bytes]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_models_list_only_the_echo_chat_model(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/models", timeout=10) as answer:
        assert [m["id"] for m in json.load(answer)["data"]] == [ECHO_MODEL]


def test_chat_completion_echoes_the_last_user_message_ignores_tools_and_closes(base_url: str) -> None:
    messages = [
        {"role": "system", "content": "You are Letta."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "Echo: first"},
        {"role": "user", "content": [{"type": "text", "text": USER_TEXT}]},
    ]
    tools = [{"type": "function", "function": {"name": "send_message", "parameters": {}}}]
    status, headers, raw = post(
        f"{base_url}/chat/completions", {"model": ECHO_MODEL, "messages": messages, "tools": tools}
    )
    body = json.loads(raw)
    assert status == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == f"Echo: {USER_TEXT}"
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["total_tokens"] > 0
    # Keep-alive made Letta 0.16.8 stall ~60 s per message: every answer closes its connection.
    assert headers["connection"] == "close"


def test_streaming_sends_sse_chunks_then_usage_then_done(base_url: str) -> None:
    request = {"model": ECHO_MODEL, "messages": [{"role": "user", "content": "hi there"}], "stream": True}
    status, headers, raw = post(f"{base_url}/chat/completions", request | {"stream_options": {"include_usage": True}})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in raw.decode().split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Echo: hi there"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["completion_tokens"] > 0
    _, _, plain = post(f"{base_url}/chat/completions", request)
    assert b'"usage"' not in plain


def test_embeddings_float_and_base64_are_the_same_unit_vectors(base_url: str) -> None:
    _, _, raw = post(f"{base_url}/embeddings", {"model": "text-embedding-3-small", "input": ["alpha beta", "gamma"]})
    vectors = [d["embedding"] for d in json.loads(raw)["data"]]
    assert [len(v) for v in vectors] == [1536, 1536] and vectors[0] == embed_text("alpha beta")
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-9) for v in vectors)
    _, _, raw = post(f"{base_url}/embeddings", {"input": "alpha beta", "encoding_format": "base64"})
    packed = base64.b64decode(json.loads(raw)["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, embed_text("alpha beta"), strict=True))
    _, _, small = post(f"{base_url}/embeddings", {"input": "x", "dimensions": 256})
    _, _, large = post(f"{base_url}/embeddings", {"model": "text-embedding-3-large", "input": "x"})
    assert len(json.loads(small)["data"][0]["embedding"]) == 256
    assert len(json.loads(large)["data"][0]["embedding"]) == 3072


def test_errors_are_openai_shaped(base_url: str) -> None:
    for path, body, raw in (
        ("chat/completions", {"messages": []}, None),
        ("embeddings", {"model": "text-embedding-3-small"}, None),
        ("chat/completions", None, b"{not json"),
    ):
        status, _, answer = post(f"{base_url}/{path}", body, raw)
        assert status == 400 and json.loads(answer)["error"]["type"] == "invalid_request_error", answer


def test_echo_reply_and_embeddings_are_deterministic() -> None:
    assert echo_reply([{"role": "user", "content": "  "}]) == "Echo: (no user message)"
    assert echo_reply([{"role": "user", "content": [{"type": "text", "text": "a"}, "b"]}]) == "Echo: a\nb"
    memory = embed_text("The user's favorite color is blue.")
    assert memory == embed_text("The user's favorite color is blue.")

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(embed_text("favorite color"), memory) > max(0.3, cosine(embed_text("weather in Paris"), memory))
    with pytest.raises(ValueError):
        embed_text("x", 0)

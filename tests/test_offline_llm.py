"""The offline echo endpoint, over real HTTP on loopback (what Letta 0.16.8 calls, stdlib clients)."""

from __future__ import annotations

import base64
import http.client
import json
import math
import signal
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.rehearsal.offline_llm import ECHO_MODEL, OfflineLLM, echo_reply, embed_text

ROOT = Path(__file__).resolve().parents[1]
USER_TEXT = "Hello! Can you remember that my favorite color is blue?"


@pytest.fixture(scope="module")
def llm() -> Iterator[OfflineLLM]:
    with OfflineLLM(record_requests=True) as server:
        yield server


def _request(
    url: str, body: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _json(url: str, body: dict[str, Any] | None = None, **kw: Any) -> tuple[int, dict[str, Any]]:
    status, raw = _request(url, body, **kw)
    return status, json.loads(raw)


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_models_lists_only_the_echo_chat_model(llm: OfflineLLM) -> None:
    status, body = _json(f"{llm.base_url}/models")
    assert status == 200
    assert [m["id"] for m in body["data"]] == [ECHO_MODEL]
    assert body["data"][0]["object"] == "model"
    status, card = _json(f"{llm.base_url}/models/{ECHO_MODEL}")
    assert (status, card["id"]) == (200, ECHO_MODEL)


def test_chat_completion_echoes_the_last_user_message_and_ignores_tools(llm: OfflineLLM) -> None:
    status, body = _json(
        f"{llm.base_url}/chat/completions",
        {
            "model": ECHO_MODEL,
            "messages": [
                {"role": "system", "content": "You are Letta."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "Echo: first"},
                {"role": "user", "content": USER_TEXT},
            ],
            "tools": [{"type": "function", "function": {"name": "send_message", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
        },
    )
    assert status == 200
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": f"Echo: {USER_TEXT}", "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert body["object"] == "chat.completion"
    assert body["model"] == ECHO_MODEL
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_accepts_content_parts() -> None:
    parts = [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]
    messages = [{"role": "user", "content": parts}]
    assert echo_reply(messages) == "Echo: part one\ntwo"
    assert echo_reply([{"role": "system", "content": "x"}]) == "Echo: (no user message)"


def test_chat_streaming_sends_sse_chunks_usage_and_done(llm: OfflineLLM) -> None:
    status, raw = _request(
        f"{llm.base_url}/chat/completions",
        {
            "model": ECHO_MODEL,
            "messages": [{"role": "user", "content": USER_TEXT}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert status == 200
    events = [line[len("data: ") :] for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == f"Echo: {USER_TEXT}"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_streaming_without_usage_has_no_usage_chunk(llm: OfflineLLM) -> None:
    _, raw = _request(
        f"{llm.base_url}/chat/completions",
        {"model": ECHO_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    events = [line[6:] for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_responses_close_the_connection_by_default(llm: OfflineLLM) -> None:
    conn = http.client.HTTPConnection(llm.host, llm.port, timeout=10)
    try:
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        resp.read()
        assert resp.getheader("Connection") == "close"
        assert resp.will_close
    finally:
        conn.close()


def test_keep_alive_connection_serves_several_requests() -> None:
    with OfflineLLM(keep_alive=True) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            sockets = set()
            for word in ("one", "two", "three"):
                body = json.dumps({"model": ECHO_MODEL, "messages": [{"role": "user", "content": word}]})
                conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                assert not resp.will_close
                assert json.loads(resp.read())["choices"][0]["message"]["content"] == f"Echo: {word}"
                sockets.add(id(conn.sock))
            assert len(sockets) == 1  # one TCP connection served all three
        finally:
            conn.close()


def test_embeddings_float_default_dimension_unit_norm_and_order(llm: OfflineLLM) -> None:
    status, body = _json(
        f"{llm.base_url}/embeddings", {"model": "text-embedding-3-small", "input": ["alpha beta", "gamma"]}
    )
    assert status == 200
    assert [d["index"] for d in body["data"]] == [0, 1]
    vectors = [d["embedding"] for d in body["data"]]
    assert all(len(v) == 1536 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-9) for v in vectors)
    assert vectors[0] == embed_text("alpha beta")


def test_embeddings_base64_is_little_endian_float32_of_the_same_vector(llm: OfflineLLM) -> None:
    _, body = _json(
        f"{llm.base_url}/embeddings",
        {"model": "text-embedding-3-small", "input": "alpha beta", "encoding_format": "base64"},
    )
    raw = base64.b64decode(body["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(decoded) == 1536
    expected = embed_text("alpha beta")
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, expected, strict=True))


def test_embedding_dimensions_follow_the_request_and_the_model(llm: OfflineLLM) -> None:
    _, small = _json(f"{llm.base_url}/embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": 256})
    _, large = _json(f"{llm.base_url}/embeddings", {"model": "text-embedding-3-large", "input": "x"})
    assert len(small["data"][0]["embedding"]) == 256
    assert len(large["data"][0]["embedding"]) == 3072


def test_embeddings_are_deterministic_and_shared_words_score_higher() -> None:
    memory = embed_text("The user's favorite color is blue.")
    assert memory == embed_text("The user's favorite color is blue.")
    related = _cosine(embed_text("favorite color"), memory)
    unrelated = _cosine(embed_text("weather in Paris yesterday"), memory)
    assert related > unrelated
    assert related > 0.3


def test_errors_are_openai_shaped(llm: OfflineLLM) -> None:
    status, body = _json(f"{llm.base_url}/chat/completions", {"model": ECHO_MODEL, "messages": []})
    assert status == 400 and "messages" in body["error"]["message"]
    status, body = _json(f"{llm.base_url}/embeddings", {"model": "text-embedding-3-small"})
    assert status == 400
    status, body = _json(f"{llm.base_url}/responses", {"model": ECHO_MODEL, "input": "hi"})
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _ = _request(f"{llm.base_url}/chat/completions")  # a GET on a POST route
    assert status == 404


def test_bad_json_is_a_400(llm: OfflineLLM) -> None:
    conn = http.client.HTTPConnection(llm.host, llm.port, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", b"{not json", {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 400
        assert "JSON" in json.loads(resp.read())["error"]["message"]
    finally:
        conn.close()


def test_api_key_is_enforced_when_configured() -> None:
    with OfflineLLM(api_key="sekret-key") as guarded:
        status, body = _json(f"{guarded.base_url}/models")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        status, body = _json(f"{guarded.base_url}/models", headers={"Authorization": "Bearer sekret-key"})
        assert status == 200


def test_requests_are_recorded_for_inspection(llm: OfflineLLM) -> None:
    _json(
        f"{llm.base_url}/chat/completions",
        {"model": ECHO_MODEL, "messages": [{"role": "user", "content": "rec"}]},
    )
    path, body = llm.requests[-1]
    assert path == "/v1/chat/completions" and body["messages"][0]["content"] == "rec"


def test_stop_frees_the_port() -> None:
    server = OfflineLLM().start()
    port = server.port
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/v1/models")


def test_runs_as_a_module_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.rehearsal.offline_llm", "--port", "0", "--port-file", str(port_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("offline-llm listening on http://127.0.0.1:")
        port = int(port_file.read_text())
        status, body = _json(f"http://127.0.0.1:{port}/v1/models")
        assert status == 200 and body["data"][0]["id"] == ECHO_MODEL
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

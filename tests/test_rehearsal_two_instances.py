"""Two Letta containers behind a round-robin front, as a two-task service behind its ALB, on one PostgreSQL:
`local_stack.py up --offline --instances 2`, nothing mocked but the LLM (the labelled echo).

Each `up` starts both containers at the same moment on an empty database, as a deployment's new tasks start:
with the supervisor's migration lock both become healthy, the schema at head, Letta's first-start rows written
once (tests/test_rehearsal_concurrent_start.py is the control without the lock).

Run twice: with one shared Redis (what the service stack gives its tasks through LETTA_REDIS_HOST), and with a
private Redis per instance (what each task has when LETTA_REDIS_HOST is unset: startup.sh starts its own). The
lock and resume checks must fail in the second run, so they are strict xfails there: if they ever passed
without a shared Redis, they would prove nothing, and the suite fails.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scripts.local_stack import State
from scripts.rehearsal.processes import free_port
from tests.rehearsal import FirstStart, down_later, first_start, local_stack

pytestmark = [pytest.mark.letta, pytest.mark.postgres]
SERVED_BY = "x-served-by"
NO_SHARED_REDIS = "without a shared Redis each instance keeps its own locks and streams"


@dataclass
class Stack:
    redis: str
    client: httpx.Client
    agent_id: str
    up_stdout: str
    first: FirstStart


@pytest.fixture(scope="module", params=["shared", "private"], name="stack")
def two_instances(request: pytest.FixtureRequest) -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="letta-two-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when the tests run as root
    state_dir = base / "state"
    args = ["up", "--offline", "--instances", "2", "--port", str(free_port()), "--llm-port", str(free_port())]
    try:
        up = local_stack(state_dir, *args, *(["--no-shared-redis"] if request.param == "private" else []))
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert ("redis: one shared" if request.param == "shared" else "redis: a private one per instance") in up.stdout
        first = first_start(state_dir)  # before any request of the tests writes a row
        state = State.load(state_dir)
        assert state is not None and len(state.letta_ports) == 2
        headers = {"Authorization": f"Bearer {state.server_password}", "X-Stainless-Package-Version": "1.0.0"}
        with httpx.Client(base_url=state.base_url, headers=headers, timeout=60) as client:
            agent = client.post(
                "/v1/agents/",
                json={"name": "two", "model": "openai-proxy/echo-1", "embedding": "openai/text-embedding-3-small"},
            )
            assert agent.status_code == 200, agent.text
            yield Stack(request.param, client, agent.json()["id"], up.stdout, first)
    finally:
        down_later(base, [state_dir])


def test_both_started_together_on_the_empty_database_and_migrated_it_once(stack: Stack) -> None:
    print(stack.first)
    assert "letta: 2 instances started together, all healthy after" in stack.up_stdout
    assert stack.first.clean and not stack.first.telling, stack.first


def send(stack: Stack, text: str) -> httpx.Response:
    """One message to the agent's default conversation: the route that takes Letta's per-agent lock."""
    body = {"agent_id": stack.agent_id, "streaming": False, "messages": [{"role": "user", "content": text}]}
    return stack.client.post("/v1/conversations/default/messages", json=body)


def conversation(stack: Stack) -> list[tuple[str, str]]:
    """(type, text) of the agent's user and assistant messages, oldest first."""
    answer = stack.client.get(f"/v1/agents/{stack.agent_id}/messages", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    kinds = ("user_message", "assistant_message")
    return [(m["message_type"], str(m["content"])) for m in answer.json() if m["message_type"] in kinds]


def without_pairs_of(pairs: list[tuple[str, str]], texts: list[str]) -> list[tuple[str, str]]:
    return [p for p in pairs if not any(t in p[1] for t in texts)]


def test_messages_alternate_between_instances_and_the_conversation_stays_whole(stack: Stack) -> None:
    texts = [f"{stack.redis} turn {i}" for i in range(6)]
    served = []
    for text in texts:
        answer = send(stack, text)
        assert answer.status_code == 200, answer.text
        served.append(answer.headers[SERVED_BY])
        print(f"{text!r} served by instance {served[-1]}")
    assert set(served) == {"0", "1"} and all(a != b for a, b in itertools.pairwise(served)), served
    mine = [p for p in conversation(stack) if any(p[1].endswith(t) for t in texts)]
    expected = [pair for t in texts for pair in (("user_message", t), ("assistant_message", f"Echo: {t}"))]
    assert mine == expected  # every turn, in order, whichever instance served it


def test_two_concurrent_messages_to_one_agent_are_serialized(stack: Stack, request: pytest.FixtureRequest) -> None:
    if stack.redis == "private":
        request.applymarker(pytest.mark.xfail(strict=True, reason=NO_SHARED_REDIS))
    for attempt in range(3):  # the echo answers in about a second: the two requests overlap at once, or retry
        texts = [f"{stack.redis} concurrent {attempt}.{i}" for i in range(2)]
        start = threading.Barrier(2)

        def one(text: str, start: threading.Barrier = start) -> httpx.Response:
            start.wait()  # both leave together: the second arrives while the first holds the lock
            return send(stack, text)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(one, texts))
        outcome = sorted((r.status_code, r.headers[SERVED_BY], r.text[:160]) for r in results)
        print(f"attempt {attempt}: {outcome}")
        assert outcome[0][1] != outcome[1][1], "the front sends the two requests to different instances"
        if [code for code, _, _ in outcome] != [200, 200]:
            break
    # Letta's lock is not blocking: the second message is refused as busy (409), never run alongside.
    assert [code for code, _, _ in outcome] == [200, 409], outcome
    assert "busy" in outcome[1][2].lower() or "conversation" in outcome[1][2].lower(), outcome
    pairs = [p for p in conversation(stack) if "concurrent" in p[1]]
    assert len(pairs) == 2 and pairs[1] == ("assistant_message", f"Echo: {pairs[0][1]}"), pairs


def events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    """The JSON events of an SSE stream until it ends, or until it stays quiet past the client's read timeout."""
    with contextlib.suppress(httpx.ReadTimeout):
        for line in lines:
            if line.startswith("data: {"):
                yield json.loads(line.removeprefix("data: "))


def test_background_stream_resumes_through_the_other_instance(stack: Stack, request: pytest.FixtureRequest) -> None:
    if stack.redis == "private":
        request.applymarker(pytest.mark.xfail(strict=True, reason=NO_SHARED_REDIS))
    text = f"{stack.redis} background"
    body = {
        "agent_id": stack.agent_id,
        "streaming": True,
        "background": True,
        "messages": [{"role": "user", "content": text}],
    }
    with stack.client.stream("POST", "/v1/conversations/default/messages", json=body) as first:
        assert first.status_code == 200, first.read().decode()[:300]
        started_on = first.headers[SERVED_BY]
        head = next(events(first.iter_lines()))  # then the client disconnects
    run_id, seq = head["run_id"], head["seq_id"]
    print(f"run {run_id} started on instance {started_on}, disconnected after seq_id {seq}")
    resume = {"starting_after": seq}
    # Quiet for 10 s means nothing more will come: the shared Redis delivers the rest at once.
    try:
        with stack.client.stream("POST", f"/v1/runs/{run_id}/stream", json=resume, timeout=10) as rest:
            served = rest.headers[SERVED_BY]
            print(f"resumed through instance {served}: HTTP {rest.status_code}")
            assert served != started_on
            assert rest.status_code == 200, rest.read().decode()[:300]
            tail = list(events(rest.iter_lines()))
    except httpx.ReadTimeout:
        pytest.fail(f"the other instance sent nothing of {run_id} within 10 s: it has no chunks of that run")
    print(f"resumed events: {[e.get('message_type') for e in tail]}")
    assert all(int(str(e["seq_id"])) > int(str(seq)) for e in tail if "seq_id" in e)
    assert {"message_type": "assistant_message", "content": f"Echo: {text}"}.items() <= next(
        e for e in tail if e.get("message_type") == "assistant_message"
    ).items()
    assert any(e.get("message_type") == "stop_reason" for e in tail)

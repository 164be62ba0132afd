"""What two Letta instances behind the rehearsal's round-robin front (the ALB's stand-in) do for one agent, and
what of it needs their Redis to be one: the checks that tests/test_rehearsal_upgrade.py runs on its upgraded
pair (one shared Redis, as the service stack gives its tasks) and tests/test_rehearsal_two_instances.py on a pair
with a Redis each (the control, where the lock and resume checks must fail)."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE, State
from tests.rehearsal import api_client

SERVED_BY = "x-served-by"
NO_SHARED_REDIS = "without a shared Redis each instance keeps its own locks and streams"


@dataclass
class Pair:
    """An agent on a two-instance rehearsal, and a client of its front; `label` tells the runs' messages apart."""

    label: str
    client: httpx.Client
    agent_id: str


@contextlib.contextmanager
def pair(state: State, label: str) -> Iterator[Pair]:
    """A new agent on the rehearsal of `state` (two instances), with a client of its front."""
    with api_client(state, timeout=60) as client:
        body = {"name": f"two-{label}", "model": ECHO_MODEL_HANDLE, "embedding": ECHO_EMBEDDING_HANDLE}
        agent = client.post("/v1/agents/", json=body)
        assert agent.status_code == 200, agent.text
        yield Pair(label, client, agent.json()["id"])


def send(pair: Pair, text: str) -> httpx.Response:
    """One message to the agent's default conversation: the route that takes Letta's per-agent lock."""
    body = {"agent_id": pair.agent_id, "streaming": False, "messages": [{"role": "user", "content": text}]}
    return pair.client.post("/v1/conversations/default/messages", json=body)


def conversation(pair: Pair) -> list[tuple[str, str]]:
    """(type, text) of the agent's user and assistant messages, oldest first."""
    answer = pair.client.get(f"/v1/agents/{pair.agent_id}/messages", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    kinds = ("user_message", "assistant_message")
    return [(m["message_type"], str(m["content"])) for m in answer.json() if m["message_type"] in kinds]


def messages_alternate_and_the_conversation_stays_whole(pair: Pair) -> None:
    texts = [f"{pair.label} turn {i}" for i in range(6)]
    served = []
    for text in texts:
        answer = send(pair, text)
        assert answer.status_code == 200, answer.text
        served.append(answer.headers[SERVED_BY])
        print(f"{text!r} served by instance {served[-1]}")
    assert set(served) == {"0", "1"} and all(a != b for a, b in itertools.pairwise(served)), served
    mine = [p for p in conversation(pair) if any(p[1].endswith(t) for t in texts)]
    expected = [turn for t in texts for turn in (("user_message", t), ("assistant_message", f"Echo: {t}"))]
    assert mine == expected  # every turn, in order, whichever instance served it


def concurrent_messages_are_serialized(pair: Pair) -> None:
    for attempt in range(3):  # the echo answers in about a second: the two requests overlap at once, or retry
        texts = [f"{pair.label} concurrent {attempt}.{i}" for i in range(2)]
        start = threading.Barrier(2)

        def one(text: str, start: threading.Barrier = start) -> httpx.Response:
            start.wait()  # both leave together: the second arrives while the first holds the lock
            return send(pair, text)

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
    pairs = [p for p in conversation(pair) if "concurrent" in p[1]]
    assert len(pairs) == 2 and pairs[1] == ("assistant_message", f"Echo: {pairs[0][1]}"), pairs


def events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    """The JSON events of an SSE stream until it ends, or until it stays quiet past the client's read timeout."""
    with contextlib.suppress(httpx.ReadTimeout):
        for line in lines:
            if line.startswith("data: {"):
                yield json.loads(line.removeprefix("data: "))


def a_background_stream_resumes_through_the_other_instance(pair: Pair) -> None:
    text = f"{pair.label} background"
    body = {
        "agent_id": pair.agent_id,
        "streaming": True,
        "background": True,
        "messages": [{"role": "user", "content": text}],
    }
    with pair.client.stream("POST", "/v1/conversations/default/messages", json=body) as first:
        assert first.status_code == 200, first.read().decode()[:300]
        started_on = first.headers[SERVED_BY]
        head = next(events(first.iter_lines()))  # then the client disconnects
    run_id, seq = head["run_id"], head["seq_id"]
    print(f"run {run_id} started on instance {started_on}, disconnected after seq_id {seq}")
    resume = {"starting_after": seq}
    # Quiet for 10 s means nothing more will come: the shared Redis delivers the rest at once.
    try:
        with pair.client.stream("POST", f"/v1/runs/{run_id}/stream", json=resume, timeout=10) as rest:
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

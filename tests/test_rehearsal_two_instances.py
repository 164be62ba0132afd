"""Two Letta containers behind a round-robin front, as a two-task service behind its ALB, on one PostgreSQL, each
with a Redis of its own (`local_stack.py up --offline --instances 2 --no-shared-redis`: what each task has when
LETTA_REDIS_HOST is unset, startup.sh starts its own), nothing mocked but the LLM (the labelled echo).

The `up` starts both containers at the same moment on an empty database, as a deployment's new tasks start: with
the supervisor's migration lock both become healthy, the schema at head, Letta's first-start rows written once
(tests/test_rehearsal_concurrent_start.py is the control without the lock).

Then the control of the shared Redis: tests/test_rehearsal_upgrade.py runs tests/shared_redis.py's checks on its
upgraded pair, which shares one Redis (what the service stack gives its tasks). Here the lock and resume checks
must fail, so they are strict xfails: if they ever passed without a shared Redis, they would prove nothing there,
and the suite fails.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_stack import State
from scripts.rehearsal.processes import free_port
from tests import shared_redis
from tests.rehearsal import FirstStart, down_later, first_start, local_stack

pytestmark = [pytest.mark.letta, pytest.mark.postgres]


@pytest.fixture(scope="module", name="started")
def started_fixture() -> Iterator[tuple[str, FirstStart, State]]:
    base = Path(tempfile.mkdtemp(prefix="letta-two-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when the tests run as root
    state_dir = base / "state"
    args = ["up", "--offline", "--instances", "2", "--port", str(free_port()), "--llm-port", str(free_port())]
    try:
        up = local_stack(state_dir, *args, "--no-shared-redis")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "redis: a private one per instance" in up.stdout
        first = first_start(state_dir)  # before any request of the tests writes a row
        state = State.load(state_dir)
        assert state is not None and len(state.letta_ports) == 2
        yield up.stdout, first, state
    finally:
        down_later(base, [state_dir])


@pytest.fixture(scope="module", name="pair")
def pair_fixture(started: tuple[str, FirstStart, State]) -> Iterator[shared_redis.Pair]:
    with shared_redis.pair(started[2], "private") as pair:
        yield pair


def test_both_started_together_on_the_empty_database_and_migrated_it_once(
    started: tuple[str, FirstStart, State],
) -> None:
    up_stdout, first, _ = started
    print(first)
    assert "letta: 2 instances started together, all healthy after" in up_stdout
    assert first.clean and not first.telling, first


def test_messages_alternate_between_instances_and_the_conversation_stays_whole(pair: shared_redis.Pair) -> None:
    shared_redis.messages_alternate_and_the_conversation_stays_whole(pair)


@pytest.mark.xfail(strict=True, reason=shared_redis.NO_SHARED_REDIS)
def test_two_concurrent_messages_to_one_agent_are_serialized(pair: shared_redis.Pair) -> None:
    shared_redis.concurrent_messages_are_serialized(pair)


@pytest.mark.xfail(strict=True, reason=shared_redis.NO_SHARED_REDIS)
def test_background_stream_resumes_through_the_other_instance(pair: shared_redis.Pair) -> None:
    shared_redis.a_background_stream_resumes_through_the_other_instance(pair)

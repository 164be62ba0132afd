"""dev pauses when idle (min_acu=0): the rehearsal shows both halves of the claim with the real Letta server.

1. An idle Letta with pooling off (dev's LETTA_DISABLE_SQLALCHEMY_POOLING=true, as synthesized) holds no database
   connection: for IDLE_SECONDS, while the load balancer's health check (`/v1/health/` every few seconds) keeps
   calling it, `pg_stat_activity` shows no backend of the app role, and nothing connects to the database at all.
   Aurora pauses only after `auto_pause_seconds` with no connection, so this is what lets it pause.
2. A paused database does not break the first request: Letta reaches PostgreSQL through a stand-in that, once
   "paused", holds every new connection for RESUME_SECONDS (AWS: a resume typically takes about 15 s) the way a
   resuming cluster does. An agent message sent while it is paused succeeds; the time it took is printed.

Letta runs from the synthesized task definition (`local_stack.up`), its LETTA_PG_URI pointed at the stand-in.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from scripts import local_stack
from scripts.rehearsal.processes import free_port
from stacks import letta_contract as letta
from tests.rehearsal import api_client, down_later
from tests.support.paused_postgres import PausedPostgres

pytestmark = [pytest.mark.letta, pytest.mark.postgres]
IDLE_SECONDS = 75
HEALTH_EVERY = 5
RESUME_SECONDS = 15.0


@dataclass
class Rehearsal:
    state: local_stack.State
    proxy: PausedPostgres
    client: httpx.Client
    agent_id: str


@pytest.fixture(scope="module", name="rehearsal")
def rehearsal_fixture() -> Iterator[Rehearsal]:
    base = Path(tempfile.mkdtemp(prefix="letta-pause-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when the tests run as root
    state_dir = base / "state"
    state_dir.mkdir()
    state_dir.chmod(0o755)
    # The state decided before `up`, so that the stand-in can sit between Letta and the database from the start.
    state = local_stack.State(
        free_port(), secrets.token_urlsafe(24), secrets.token_urlsafe(30), secrets.token_urlsafe(36), True
    )
    state.llm_port = free_port()
    state.save(state_dir)
    proxy = PausedPostgres(state.pg_port, resume_seconds=RESUME_SECONDS)
    through_proxy = local_stack.app_uri(dataclasses.replace(state, pg_port=proxy.port))
    try:
        state = local_stack.up(
            state_dir,
            offline=True,
            port=free_port(),
            llm_port=state.llm_port,
            extra_env={letta.PG_URI: through_proxy},
            log=lambda _line: None,
        )
        with api_client(state) as client:
            agent = client.post(
                "/v1/agents/",
                json={"name": "pause", "model": "openai-proxy/echo-1", "embedding": "openai/text-embedding-3-small"},
            )
            assert agent.status_code == 200, agent.text
            yield Rehearsal(state, proxy, client, agent.json()["id"])
    finally:
        down_later(base, [state_dir])


def _app_backends(state: local_stack.State, monitor: psycopg.Connection) -> int:
    row = monitor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
        (local_stack.DEFAULTS.app_db_user,),
    ).fetchone()
    return int(row[0]) if row else -1


def test_an_idle_letta_holds_no_database_connection(rehearsal: Rehearsal) -> None:
    # Directly on PostgreSQL (not through the stand-in), as the app role: its own backend is left out.
    monitor_uri = local_stack.app_uri(rehearsal.state)
    with psycopg.connect(monitor_uri, autocommit=True) as monitor:
        time.sleep(2)  # the agent's creation has closed its sessions (no pool: one connection per session)
        accepted_before = rehearsal.proxy.connections
        counts, health = [], []
        end = time.monotonic() + IDLE_SECONDS
        while time.monotonic() < end:
            health.append(rehearsal.client.get(letta.HEALTH_PATH).status_code)
            counts.append(_app_backends(rehearsal.state, monitor))
            time.sleep(HEALTH_EVERY)
    print(
        f"\nidle {IDLE_SECONDS} s with a health check every {HEALTH_EVERY} s: app-role backends {max(counts)} at most"
    )
    assert set(health) == {200} and len(health) >= IDLE_SECONDS // HEALTH_EVERY - 1
    assert max(counts) == 0, counts
    # Not even a short-lived one between two samples: nothing reached the database during the idle window.
    assert rehearsal.proxy.connections == accepted_before


def test_the_first_message_after_a_pause_waits_for_the_resume_and_succeeds(rehearsal: Rehearsal) -> None:
    rehearsal.proxy.pause()
    started = time.monotonic()
    body = {"messages": [{"role": "user", "content": "are you awake?"}]}
    answer = rehearsal.client.post(f"/v1/agents/{rehearsal.agent_id}/messages", json=body)
    took = time.monotonic() - started
    print(
        f"\nfirst message through a paused database ({RESUME_SECONDS:g} s resume): {answer.status_code} in {took:.1f} s"
    )
    assert answer.status_code == 200, answer.text
    assert "Echo: are you awake?" in answer.text
    # It did wait for the resume (the stand-in resumed once), and not much longer.
    assert rehearsal.proxy.resumes and took >= RESUME_SECONDS
    assert took < RESUME_SECONDS + 30
    # Awake again: the next message does not wait.
    started = time.monotonic()
    again = rehearsal.client.post(f"/v1/agents/{rehearsal.agent_id}/messages", json=body)
    assert again.status_code == 200 and time.monotonic() - started < RESUME_SECONDS

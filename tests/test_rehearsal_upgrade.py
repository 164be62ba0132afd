"""A real upgrade in the rehearsal, nothing mocked but the LLM (the labelled offline echo):

1. `local_stack.py up --letta-version 0.16.6`: the older release's own venv, start script and migrations, through
   the container command synthesized in cdk.out; agents, messages and archival passages made through its API;
2. a first 0.16.8 start is killed in the middle of its migration: while Letta's own
   `CREATE INDEX CONCURRENTLY` waits (a reader holds a snapshot), the task is SIGKILLed and its database session
   ended, which leaves the index invalid, the case `IF NOT EXISTS` never rebuilds;
3. `up --instances 2` with 0.16.8: two containers started at the same moment on that database.

Then: both healthy, alembic at head, no invalid index (the supervisor rebuilt it, and said so), no duplicate
provider rows, one default organization, and everything made on 0.16.6 reads back, archival search included.
The upgraded pair shares one Redis, as the service stack's tasks do: tests/shared_redis.py's checks run on it
(messages alternate, one agent's concurrent messages are serialized, a background stream resumes through the other
instance); tests/test_rehearsal_two_instances.py is their control, a pair with a Redis each.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE, PG_MAJOR, State, app_uri
from scripts.rehearsal.processes import free_port
from stacks.letta_contract import ALEMBIC_HEAD
from stacks.service.supervisor import INVALID_INDEXES_SQL
from tests import shared_redis
from tests.rehearsal import ROOT, api_client, down_later, local_stack

pytestmark = [pytest.mark.letta, pytest.mark.postgres]
OLD = "0.16.6"
OLD_HEAD = "b2c3d4e5f6a8"
"""0.16.6's last revision; 0.16.8 adds four, two of which build indexes CONCURRENTLY after a commit."""
DUPLICATE_PROVIDERS = """
SELECT name, count(*) FROM providers WHERE organization_id IS NULL GROUP BY name HAVING count(*) > 1
"""


@dataclass
class Upgrade:
    state_dir: Path
    state: State
    up: subprocess.CompletedProcess[str]
    made: dict[str, dict[str, list[str]]]
    killed: dict[str, object] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    logs: str = ""
    """What the two 0.16.8 instances logged (the log files also hold the earlier starts)."""

    def client(self) -> httpx.Client:
        return api_client(self.state)


def make_data(state: State) -> dict[str, dict[str, list[str]]]:
    """Two agents, each with two exchanges and two archival passages, through 0.16.6's API."""
    made: dict[str, dict[str, list[str]]] = {}
    with api_client(state) as api:
        for n in range(2):
            body = {"name": f"before-upgrade-{n}", "model": ECHO_MODEL_HANDLE, "embedding": ECHO_EMBEDDING_HANDLE}
            agent = api.post("/v1/agents/", json=body)
            assert agent.status_code == 200, agent.text
            agent_id = agent.json()["id"]
            texts = [f"agent {n} says hello {i} before the upgrade" for i in range(2)]
            for text in texts:
                sent = api.post(
                    f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
                )
                assert sent.status_code == 200, sent.text
            passages = [f"agent {n} archival fact {word}" for word in ("zebra", "harbour")]
            for passage in passages:
                stored = api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": passage})
                assert stored.status_code == 200, stored.text
            made[agent_id] = {"messages": texts, "passages": passages}
    return made


def kill_mid_migration(state_dir: Path, port: int, llm_port: int) -> dict[str, object]:
    """Start 0.16.8 once and kill it while its migration builds an index concurrently; what was left."""
    state = State.load(state_dir)
    assert state is not None
    uri = app_uri(state)
    command = [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), "up", "--offline"]
    command += ["--port", str(port), "--llm-port", str(llm_port)]
    seen: dict[str, object] = {}
    EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=state.pg_port).start()  # `up` adopts it
    with psycopg.connect(uri) as reader:
        # A reader holding a snapshot makes the concurrent build wait for it, with the index already created invalid.
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM agents").fetchone()
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as up:
            with psycopg.connect(uri, autocommit=True) as watch:
                deadline = time.monotonic() + 300
                building = None
                while building is None:
                    assert time.monotonic() < deadline and up.poll() is None, "no concurrent index build seen"
                    building = watch.execute(
                        "SELECT pid, query FROM pg_stat_activity WHERE query ILIKE '%CREATE INDEX CONCURRENTLY%' "
                        "AND pid <> pg_backend_pid() AND state = 'active'"
                    ).fetchone()
                    time.sleep(0.2)
                seen["building"] = " ".join(building[1].split())
                # The task dies (ECS's SIGKILL after the stop timeout) and its build is ended with it (what a
                # failover, a restart or an operator's cancel does; a lone dead client would let it finish).
                task = State.load(state_dir)
                assert task is not None
                family = psutil.Process(int(task.procs["letta-0"][0]))
                for process in [family, *family.children(recursive=True)]:
                    process.kill()
                watch.execute("SELECT pg_terminate_backend(%s)", (building[0],))
            seen["up_exit"] = up.wait(120)
        reader.rollback()
    with psycopg.connect(uri, autocommit=True) as conn:
        seen["invalid"] = [row[0] for row in conn.execute(INVALID_INDEXES_SQL).fetchall()]
        seen["revision"] = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert local_stack(state_dir, "down", timeout=120).returncode == 0
    return seen


@pytest.fixture(scope="module", name="upgrade")
def upgrade_fixture() -> Iterator[Upgrade]:
    base = Path(tempfile.mkdtemp(prefix="letta-upgrade-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when the tests run as root
    state_dir = base / "state"
    port, llm_port = free_port(), free_port()
    ports = ["--port", str(port), "--llm-port", str(llm_port)]
    seconds = {}
    try:
        started = time.monotonic()
        old = local_stack(state_dir, "up", "--offline", "--letta-version", OLD, *ports)
        assert old.returncode == 0, old.stdout[-3000:] + old.stderr[-3000:]
        assert f"letta: schema at {OLD_HEAD}," in old.stdout
        seconds[f"up {OLD}"] = time.monotonic() - started
        state = State.load(state_dir)
        assert state is not None
        made = make_data(state)
        assert local_stack(state_dir, "down", timeout=120).returncode == 0

        started = time.monotonic()
        killed = kill_mid_migration(state_dir, port, llm_port)
        seconds["killed start"] = time.monotonic() - started

        paths = [state_dir / "logs" / f"letta-{i}.log" for i in range(2)]
        before = [path.stat().st_size if path.exists() else 0 for path in paths]
        started = time.monotonic()
        up = local_stack(state_dir, "up", "--offline", "--instances", "2", *ports)
        seconds["up 0.16.8 x2"] = time.monotonic() - started
        logs = "".join(p.read_bytes()[size:].decode(errors="replace") for p, size in zip(paths, before, strict=True))
        state = State.load(state_dir)
        assert state is not None
        yield Upgrade(state_dir, state, up, made, killed, seconds, logs)
    finally:
        down_later(base, [state_dir])


def test_a_start_killed_mid_migration_left_an_invalid_index(upgrade: Upgrade) -> None:
    print(upgrade.killed, upgrade.seconds)
    assert upgrade.killed["up_exit"] == 1
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS" in str(upgrade.killed["building"])
    assert upgrade.killed["invalid"], "the interrupted build should have left an invalid index"
    assert upgrade.killed["revision"] != ALEMBIC_HEAD


def test_two_instances_started_together_upgrade_the_database_and_both_become_healthy(upgrade: Upgrade) -> None:
    up = upgrade.up
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert "letta: 2 instances started together, all healthy after" in up.stdout
    assert "redis: one shared" in up.stdout
    assert f"letta: schema at {ALEMBIC_HEAD}, 49 tables in public" in up.stdout
    logs = upgrade.logs
    print("\n".join(line for line in logs.splitlines() if "letta-supervisor" in line))
    assert logs.count("letta-supervisor: migration lock: acquired after") == 2
    assert logs.count("letta-supervisor: migration lock: another task holds it") == 1
    for name in upgrade.killed["invalid"]:  # type: ignore[attr-defined]
        assert logs.count(f"letta-supervisor: index repair: rebuilt invalid index {name} on ") == 1
    assert "duplicate key" not in logs and "Database migration failed" not in logs


def test_the_database_is_at_head_with_no_invalid_index_one_organization_and_no_duplicate_providers(
    upgrade: Upgrade,
) -> None:
    with psycopg.connect(app_uri(upgrade.state), autocommit=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(ALEMBIC_HEAD,)]
        assert conn.execute(INVALID_INDEXES_SQL).fetchall() == []
        assert conn.execute("SELECT count(*) FROM organizations").fetchone() == (1,)
        assert conn.execute(DUPLICATE_PROVIDERS).fetchall() == []


def test_everything_made_on_the_old_release_reads_back_archival_search_included(upgrade: Upgrade) -> None:
    with upgrade.client() as api:
        for agent_id, made in upgrade.made.items():
            agent = api.get(f"/v1/agents/{agent_id}")
            assert agent.status_code == 200, agent.text
            messages = api.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100})
            assert messages.status_code == 200, messages.text
            said = [str(m.get("content")) for m in messages.json()]
            for text in made["messages"]:
                assert text in said and f"Echo: {text}" in said
            listed = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 100})
            assert listed.status_code == 200, listed.text
            assert sorted(p["text"] for p in listed.json()) == sorted(made["passages"])
            found = api.get(f"/v1/agents/{agent_id}/archival-memory/search", params={"query": "zebra"})
            assert found.status_code == 200, found.text
            results = [r["content"] for r in found.json()["results"]]
            print(agent_id, "search 'zebra':", results)
            assert results and results[0] == made["passages"][0]


@pytest.fixture(scope="module", name="pair")
def pair_fixture(upgrade: Upgrade) -> Iterator[shared_redis.Pair]:
    with shared_redis.pair(upgrade.state, "shared") as pair:
        yield pair


def test_on_the_upgraded_pair_messages_alternate_between_instances_and_the_conversation_stays_whole(
    pair: shared_redis.Pair,
) -> None:
    shared_redis.messages_alternate_and_the_conversation_stays_whole(pair)


def test_on_the_upgraded_pair_two_concurrent_messages_to_one_agent_are_serialized(pair: shared_redis.Pair) -> None:
    shared_redis.concurrent_messages_are_serialized(pair)


def test_on_the_upgraded_pair_a_background_stream_resumes_through_the_other_instance(pair: shared_redis.Pair) -> None:
    shared_redis.a_background_stream_resumes_through_the_other_instance(pair)


def test_rolling_the_image_back_does_not_roll_the_schema_back_a_new_old_task_fails_to_start(upgrade: Upgrade) -> None:
    # Last in this module: it stops the upgraded instances. docs/upgrade.md: the way back is a restore.
    assert local_stack(upgrade.state_dir, "down", timeout=120).returncode == 0
    log = upgrade.state_dir / "logs" / "letta-0.log"
    size = log.stat().st_size
    ports = ["--port", str(free_port()), "--llm-port", str(upgrade.state.llm_port)]
    back = local_stack(upgrade.state_dir, "up", "--offline", "--letta-version", OLD, *ports)
    assert back.returncode == 1, back.stdout[-2000:]
    after = log.read_bytes()[size:].decode(errors="replace")
    assert f"Can't locate revision identified by '{ALEMBIC_HEAD}'" in after
    assert "ERROR: Database migration failed!" in after

"""The supervisor's migration lock and index repair against a real PostgreSQL with pgvector (16 and 18), through
the supervisor's own code: its functions, and its whole command run as the container runs it, with a stand-in
for Letta's start script that "migrates" for a second and then serves the health route. The real Letta is in
tests/test_rehearsal_upgrade.py; this file shows the mechanism in seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from scripts.rehearsal.processes import free_port
from stacks import letta_contract
from stacks.service import supervisor
from stacks.service.log_filter import start_command


@pytest.fixture
def uri(embedded_postgres: EmbeddedPostgres, fresh_database: str) -> str:
    return embedded_postgres.dsn(fresh_database)


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def test_the_supervisor_knows_letta_s_health_route_and_port() -> None:
    # It runs alone in the image and cannot import the contract: the copies must agree.
    assert (supervisor.HEALTH_PATH, supervisor.DEFAULT_PORT) == (letta_contract.HEALTH_PATH, letta_contract.PORT)
    assert supervisor.health_url({}) == f"http://127.0.0.1:{letta_contract.PORT}{letta_contract.HEALTH_PATH}"
    assert supervisor.health_url({"PORT": "9000"}).startswith("http://127.0.0.1:9000/")
    assert supervisor.lock_wait_seconds({supervisor.LOCK_WAIT_VAR: "30"}) == 30.0
    assert supervisor.lock_wait_seconds({supervisor.LOCK_WAIT_VAR: "soon"}) == supervisor.LOCK_WAIT_SECONDS


def test_the_command_with_the_supervisor_inside_leaves_room_in_an_ecs_task_definition() -> None:
    # The supervisor travels inside the container command (nothing can be added to the image), and ECS refuses a
    # task definition over 64 KiB: the command must leave room for the rest (environment, secrets, ports).
    command = start_command(masked_env_vars=["LETTA_PG_URI", "LETTA_SERVER_PASSWORD", "LETTA_ENCRYPTION_KEY"])
    size = len(json.dumps(command).encode())
    print(f"container command: {size} bytes")
    assert size < 40 * 1024


def test_a_second_task_waits_says_so_and_gives_up_in_time_then_gets_the_lock_once_it_is_free(uri: str) -> None:
    first, second = Lines(), Lines()
    holder = supervisor.MigrationLock(uri, first)
    assert holder.acquire(5) == "acquired"
    waiter = supervisor.MigrationLock(uri, second)
    started = time.monotonic()
    assert waiter.acquire(1.5) == "timeout"
    assert 1.4 < time.monotonic() - started < 5
    assert second[0].startswith("migration lock: another task holds it (it migrates or starts): waiting up to 2 s")
    assert "not had within 2 s; exiting 75 so that ECS starts this task again" in second[-1]
    holder.close()
    assert waiter.acquire(5) == "acquired"
    waiter.close()


def test_a_signal_while_waiting_ends_the_wait(uri: str) -> None:
    holder = supervisor.MigrationLock(uri, Lines())
    assert holder.acquire(5) == "acquired"
    asked = time.monotonic() + 0.5
    assert supervisor.MigrationLock(uri, Lines()).acquire(60, lambda: time.monotonic() > asked) == "interrupted"
    holder.close()


def test_a_task_killed_while_it_holds_the_lock_frees_it_at_once(uri: str) -> None:
    holding = textwrap.dedent(f"""
        from stacks.service.supervisor import MigrationLock
        assert MigrationLock({uri!r}, print).acquire(5) == "acquired"
        print("holding", flush=True)
        import time; time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", holding], stdout=subprocess.PIPE, text=True) as task:
        assert task.stdout is not None and "holding" in task.stdout.readline() + task.stdout.readline()
        assert supervisor.MigrationLock(uri, Lines()).acquire(0.5) == "timeout"
        task.send_signal(signal.SIGKILL)  # what ECS does when the stop timeout passes
    after = supervisor.MigrationLock(uri, Lines())
    assert after.acquire(5) == "acquired"  # PostgreSQL ended the dead session, and its lock with it
    after.close()


def test_a_holder_whose_heartbeats_stop_loses_the_lock_to_the_server_s_idle_timeout(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task that vanished without closing its connection (a network peer gone): PostgreSQL ends the session
    # after idle_session_timeout. 1 s here instead of the deployed 60 s.
    monkeypatch.setattr(supervisor, "IDLE_TIMEOUT_SECONDS", 1)
    silent = supervisor.MigrationLock(uri, Lines())
    assert silent.acquire(5) == "acquired"
    time.sleep(2)
    other = supervisor.MigrationLock(uri, Lines())
    assert other.acquire(5) == "acquired"
    other.close()
    lines = Lines()
    silent.say = lines
    assert not silent.heartbeat() and "its session ended" in lines[0]


def invalid_unique_index(uri: str) -> None:
    """What an interrupted concurrent build leaves: CREATE UNIQUE INDEX CONCURRENTLY fails on duplicates and
    leaves the index behind, invalid; `IF NOT EXISTS` would never build it again."""
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE agents (id int, name text)")
        conn.execute("INSERT INTO agents VALUES (1, 'a'), (1, 'b'), (2, 'c')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_agents_id ON agents (id)")
        conn.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_agents_id ON agents (id)")  # a no-op
        assert invalid(conn) == ["ix_agents_id"]


def invalid(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(supervisor.INVALID_INDEXES_SQL).fetchall()]


def test_an_invalid_index_is_rebuilt_concurrently_with_one_line(uri: str) -> None:
    invalid_unique_index(uri)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DELETE FROM agents WHERE name = 'b'")
    lines = Lines()
    conn8000 = supervisor.connect(uri)
    try:
        done = supervisor.repair_invalid_indexes(conn8000, lines)
    finally:
        conn8000.close()
    assert done == {"rebuilt": ["ix_agents_id"], "dropped": [], "failed": []}
    assert len(lines) == 1 and lines[0].startswith(
        "index repair: rebuilt invalid index ix_agents_id on agents (REINDEX INDEX CONCURRENTLY, "
    )
    with psycopg.connect(uri, autocommit=True) as conn:
        assert invalid(conn) == []
        with pytest.raises(psycopg.errors.UniqueViolation):  # the rebuilt index enforces again
            conn.execute("INSERT INTO agents VALUES (2, 'd')")


def test_a_rebuild_that_fails_is_logged_and_leaves_no_debris(uri: str) -> None:
    invalid_unique_index(uri)  # the duplicates stay: the rebuild must fail
    lines = Lines()
    conn8000 = supervisor.connect(uri)
    try:
        done = supervisor.repair_invalid_indexes(conn8000, lines)
    finally:
        conn8000.close()
    assert done == {"rebuilt": [], "dropped": ["ix_agents_id_ccnew"], "failed": ["ix_agents_id"]}
    assert lines[0].startswith("index repair: could not rebuild invalid index ix_agents_id on agents: 23505 ")
    assert "left by an interrupted REINDEX CONCURRENTLY" in lines[1]
    with psycopg.connect(uri, autocommit=True) as conn:
        assert invalid(conn) == ["ix_agents_id"]  # as before the start: unused by queries, nothing worse


STAND_IN = """#!/bin/sh
# Letta's start script, reduced to what the lock is about: a migration that takes a second, then a server.
echo "migrate $PORT $(date +%s.%N)" >> "$RECORD"
sleep 1
echo "migrated $PORT $(date +%s.%N)" >> "$RECORD"
mkdir -p www/v1/health && echo ok > www/v1/health/index.html
exec "$PYTHON" -m http.server "$PORT" --bind 127.0.0.1 --directory www
"""


@pytest.fixture
def starts(tmp_path: Path, uri: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(10)


def test_three_containers_started_together_migrate_one_after_another(
    tmp_path: Path, uri: str, starts: list[subprocess.Popen[bytes]]
) -> None:
    invalid_unique_index(uri)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DELETE FROM agents WHERE name = 'b'")
    script = tmp_path / "startup.sh"
    script.write_text(STAND_IN)
    script.chmod(0o755)
    record = tmp_path / "record"
    command = start_command(masked_env_vars=["LETTA_PG_URI"], start=str(script), python=sys.executable)
    ports = [free_port() for _ in range(3)]
    for port in ports:
        env = {**os.environ, "LETTA_PG_URI": uri, "PORT": str(port), "RECORD": str(record), "PYTHON": sys.executable}
        starts.append(subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE))
    deadline = time.monotonic() + 30
    while record.read_text().count("migrated") < 3 if record.exists() else True:
        assert time.monotonic() < deadline, record.read_text() if record.exists() else "no start began"
        time.sleep(0.2)
    time.sleep(1.5)  # the last holder sees its server healthy and lets go
    for process in starts:
        process.terminate()
    logs = [process.communicate(timeout=15)[1].decode() for process in starts]
    events = [line.split() for line in record.read_text().splitlines()]
    spans = sorted(
        (float(begin[2]), float(end[2]))
        for begin in events
        if begin[0] == "migrate"
        for end in events
        if end[0] == "migrated" and end[1] == begin[1]
    )
    print("\n".join(logs), spans, sep="\n")
    assert len(spans) == 3
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans
    everything = "".join(logs)
    assert everything.count("migration lock: acquired after") == 3
    assert everything.count("migration lock: another task holds it") == 2
    assert everything.count("index repair: rebuilt invalid index ix_agents_id on agents") == 1
    assert everything.count("(index repair: 1 rebuilt, 0 dropped, 0 failed)") == 1
    password = supervisor.pg_connect_args(uri)["password"]
    assert password and password not in everything


def test_a_database_that_cannot_be_reached_stops_the_start_with_one_line_and_exit_75(tmp_path: Path) -> None:
    script = tmp_path / "startup.sh"
    script.write_text("#!/bin/sh\necho should-not-run\n")
    script.chmod(0o755)
    uri = f"postgresql://letta_app:NotThePassword123@127.0.0.1:{free_port()}/letta"
    command = start_command(masked_env_vars=["LETTA_PG_URI"], start=str(script), python=sys.executable)
    result = subprocess.run(command, env={**os.environ, "LETTA_PG_URI": uri}, capture_output=True, timeout=60)
    assert result.returncode == supervisor.EX_TEMPFAIL
    assert result.stdout == b""
    assert result.stderr.decode().startswith("letta-supervisor: migration lock: cannot take it on the database: ")
    assert b"NotThePassword123" not in result.stderr


def test_a_start_whose_migration_fails_exits_with_its_code_and_the_next_task_gets_the_lock(
    tmp_path: Path, uri: str
) -> None:
    script = tmp_path / "startup.sh"
    script.write_text('#!/bin/sh\necho "ERROR: Database migration failed!"\nexit 1\n')
    script.chmod(0o755)
    command = start_command(masked_env_vars=["LETTA_PG_URI"], start=str(script), python=sys.executable)
    env = {**os.environ, "LETTA_PG_URI": uri, "PORT": str(free_port())}
    result = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert result.returncode == 1  # the start script's own code: ECS counts a failed task
    assert result.stdout == b"ERROR: Database migration failed!\n"
    assert b"migration lock: acquired after" in result.stderr
    following = supervisor.MigrationLock(uri, Lines())
    assert following.acquire(5) == "acquired"  # the next task tries in its turn
    following.close()

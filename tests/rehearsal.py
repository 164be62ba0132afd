"""Running the local rehearsal's command line from the tests, as a user runs it; stopping a module's rehearsals in
the background; and what simultaneous first starts left in a rehearsal's database."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psycopg

from scripts.local_stack import State, app_uri
from stacks.letta_contract import ALEMBIC_HEAD

ROOT = Path(__file__).resolve().parents[1]


def api_client(state: State, timeout: float = 120) -> httpx.Client:
    """A client of the rehearsal's Letta API (through its front when it has several instances), with its token."""
    headers = {"Authorization": f"Bearer {state.server_password}", "X-Stainless-Package-Version": "1.0.0"}
    return httpx.Client(base_url=state.base_url, headers=headers, timeout=timeout)


def local_stack(state_dir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class _Down:
    process: subprocess.Popen[bytes]
    base: Path
    output: IO[bytes]


_DOWNS: list[_Down] = []


def down_later(base: Path, state_dirs: Iterable[Path]) -> None:
    """`local_stack.py down --wipe` of each of a module's rehearsals, then `base` removed, while the worker goes on
    to its next tests: a `down` mostly waits (Letta's shutdown, PostgreSQL's checkpoint), seconds each.
    `finish_downs` waits for them at the end of the session and reports one that did not stop cleanly."""
    for state_dir in state_dirs:
        output = tempfile.TemporaryFile()  # noqa: SIM115  (closed by finish_downs)
        command = [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), "down", "--wipe"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        _DOWNS.append(_Down(process, base, output))


def finish_downs(timeout: float = 120) -> list[str]:
    """Waits for every `down_later` and removes its folder; what each one that failed printed."""
    failed = []
    while _DOWNS:
        down = _DOWNS.pop()
        with down.output:
            code = down.process.wait(timeout)
            if code != 0:
                down.output.seek(0)
                failed.append(f"{down.process.args} exited {code}: {down.output.read().decode()[-500:]}")
        if all(other.base != down.base for other in _DOWNS):
            shutil.rmtree(down.base, ignore_errors=True)
    return failed


def own_redis_port(up_stdout: str) -> int:
    """The port of the Redis that startup.sh started for letta-0, as `up` reported it."""
    match = re.search(
        r"^letta-0: its own redis-server on 127\.0\.0\.1:(\d+) \(started by startup\.sh\)$", up_stdout, re.M
    )
    assert match, up_stdout
    return int(match.group(1))


def redis_dir(port: int) -> str | None:
    """The working directory of the redis-server on `port` (where it was started), None when none answers."""
    answer = subprocess.run(
        ["redis-cli", "-p", str(port), "config", "get", "dir"], capture_output=True, text=True, timeout=10, check=False
    )
    lines = answer.stdout.split()
    return lines[1] if answer.returncode == 0 and len(lines) == 2 else None


# Rows Letta's first start writes check-then-insert: duplicates are what a race of first starts leaves.
DUPLICATES = {
    "organizations": "SELECT count(*) - 1 FROM organizations",
    "users": "SELECT count(*) - count(DISTINCT id) FROM users",
    "providers": "SELECT count(*) - count(DISTINCT name) FROM providers WHERE organization_id IS NULL",
    "sandbox_configs": "SELECT count(*) - count(DISTINCT (type, organization_id)) FROM sandbox_configs",
}
TELLING = ("duplicate key value", "UniqueViolation", "IntegrityError", "migration failed", "Traceback")


@dataclass
class FirstStart:
    """What simultaneous first starts on an empty database left: its schema revision, the duplicates among the
    rows they write, and the first telling lines of the instances' logs."""

    revision: str | None
    duplicates: dict[str, int]
    telling: list[str]

    @property
    def clean(self) -> bool:
        """At head, and Letta's first-start rows written once."""
        return self.revision == ALEMBIC_HEAD and bool(self.duplicates) and not any(self.duplicates.values())


def first_start(state_dir: Path) -> FirstStart:
    state = State.load(state_dir)
    revision, duplicates = None, {}
    if state is not None:
        with psycopg.connect(app_uri(state), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('alembic_version')").fetchone() != (None,):
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            if conn.execute("SELECT to_regclass('providers')").fetchone() != (None,):
                duplicates = {t: int(conn.execute(q).fetchone()[0]) for t, q in DUPLICATES.items()}
    logs = [p.read_text(errors="replace") for p in sorted((state_dir / "logs").glob("letta-*.log"))]
    telling = [x.strip()[:200] for log in logs for x in log.splitlines() if any(t in x for t in TELLING)][:3]
    return FirstStart(revision, duplicates, telling)

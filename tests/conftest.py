"""Shared test setup: the pinned Node 22 first on PATH (jsii spawns `node`), the markers that make the fast tier,
and the fixtures of the real PostgreSQL.

Markers (pytest.ini) are derived here rather than written on every test, so a new test cannot forget one:
`synth` for a test that synthesizes (its module reads tests/cdk_app.py or builds a Stack), `postgres` for one
that uses the embedded server (the fixture, or `shared_server` for a module's own fixture). `cli` (a command
line run as its own process: the pinned CDK CLI, app.py, an operator script) and `letta` (the real Letta
server or its venv) are set by their modules. The fast tier: `-m "not synth and not cli and not postgres and
not letta"`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from stacks.pgsql.sql_files import SqlFile, load_sql_files
from tests.postgres_server import MAJORS, SQL_DIR, generate_password, shared_server, unique_role
from tests.rehearsal import finish_downs

ROOT = Path(__file__).resolve().parents[1]
_NODE_BIN = ROOT / "node_modules" / ".bin"
if _NODE_BIN.is_dir():
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
# Synth must never depend on the machine's AWS settings.
os.environ.pop("CDK_DEFAULT_ACCOUNT", None)
os.environ.pop("CDK_DEFAULT_REGION", None)


# tryfirst: pytest-xdist's own hook reads the xdist_group marks to put the group into each node id; it must
# see the marks this hook adds, or every worker sets up every module's fixture again (a rehearsal: a minute).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        module = getattr(item, "module", None)
        synth = module is not None and any(hasattr(module, n) for n in ("synthesize", "synthesized", "assertions"))
        if synth:
            # Every synthesizing module on one worker: tests/cdk_app.py's cache of synthesized variants lives in
            # a process, and shared by all of them each variant is synthesized once, not once per worker.
            item.add_marker(pytest.mark.synth)
            item.add_marker(pytest.mark.xdist_group("synth"))
        elif fixtures and any(defs[-1].scope == "module" for defs in fixtures.name2fixturedefs.values()):
            # A module-scoped fixture (a rehearsal) is built once per worker that runs one of the module's tests:
            # its tests go to one worker together (pytest-xdist's --dist loadgroup).
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
        if "embedded_postgres" in getattr(item, "fixturenames", ()) or hasattr(module, "shared_server"):
            item.add_marker(pytest.mark.postgres)


# --- Fixtures: a real PostgreSQL with pgvector (tests/postgres_server.py) -------------------------------


@pytest.fixture(scope="session", params=MAJORS, ids=[f"pg{major}" for major in MAJORS])
def embedded_postgres(request: pytest.FixtureRequest) -> EmbeddedPostgres:
    """The running server of one major, shared by the whole session."""
    return shared_server(request.param)


@pytest.fixture
def fresh_database(embedded_postgres: EmbeddedPostgres) -> str:
    """A new, empty database on the session server (roles are cluster-wide: use ``unique_role``)."""
    name = f"letta_{uuid.uuid4().hex[:12]}"
    embedded_postgres.create_database(name)
    return name


@pytest.fixture
def app_role() -> str:
    """A role name no other test uses."""
    return unique_role()


@pytest.fixture
def app_password() -> str:
    """A password drawn from the whole allowed alphabet."""
    return generate_password()


@pytest.fixture(scope="session", autouse=True)
def rehearsals_stopped() -> Iterator[None]:
    """The rehearsals that modules left to stop in the background (tests.rehearsal.down_later) have stopped and
    are wiped by the end of the session; one that did not stop cleanly is an error."""
    yield
    failed = finish_downs()
    assert not failed, failed


@pytest.fixture(scope="session")
def sql_files() -> list[SqlFile]:
    """The repository's bootstrap_sql files."""
    return load_sql_files(SQL_DIR)


# The modules that start Letta, longest first (minutes each on 2 cores; the upgrade starts five servers), then the
# documented command lines (one group of a minute, tests/test_user_commands.py). Sent to the workers first, they
# run side by side while the thousand short tests fill the gaps after them: in collection order the upgrade came
# last and ran alone at the end, and so, once on one worker, did the command lines (a minute at half the CPU).
# The synthesizing modules' group starts early without a rank: its first module (test_access_logs) sorts early.
_LONGEST_FIRST = (
    "tests/test_rehearsal_upgrade.py",
    "tests/test_auto_pause.py",
    "tests/test_rehearsal_restore.py",
    "tests/test_rehearsal_two_instances.py",
    "tests/test_agents_rehearsals.py",
    "tests/test_rehearsal_e2e.py",
    "tests/test_rehearsal_concurrent_start.py",
    "tests/test_user_commands.py",
)


class _LongestFirst:
    @pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture, which would undo it
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        rank = {path: index for index, path in enumerate(_LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0].split("@")[0], len(rank)))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores. The rehearsal modules spend minutes waiting, not computing (the
    auto-pause module watches an idle Letta for 75 s, then a 15 s resume; every `up` waits on its servers' health
    and every `down` on their shutdown), and the extra worker runs tests in those gaps. Measured on 2 cores: 2
    workers 8 min 28 s, 3 workers 6 min 40 s, 4 workers 7 min 18 s (four rehearsals starting at once); runs of
    the same code on this machine vary by a minute or more."""
    return len(os.sched_getaffinity(0)) + 1


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_LongestFirst(), "letta-longest-first")


def pytest_collection_finish(session: pytest.Session) -> None:
    # pytest-xdist 3.8 groups by rewriting Item._nodeid, which pytest 9.2 no longer reads: the groups vanish
    # silently and each worker starts its own copy of every rehearsal. Stop instead of running twice as long.
    if not session.config.getoption("loadgroup", default=False):
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            raise pytest.UsageError(
                f"pytest-xdist did not group {item.nodeid}: this pytest breaks --dist loadgroup "
                "(requirements-dev.txt pins one that works)"
            )

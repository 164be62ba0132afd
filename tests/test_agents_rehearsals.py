"""Moving an agent between two rehearsals, nothing mocked: rehearsal A (real Letta, offline echo LLM) holds an agent
with a few hundred archival passages and a history longer than its context window (Letta's own compaction moved
the early messages out of it); `agents.py export` writes it, rehearsal B starts from an empty database,
`agents.py import` brings it in, and B's API must answer as A's did. The control imports Letta's `.af` alone.

Both rehearsals start at once (their `up`s overlap) to keep the suite's budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts import agents
from scripts.agent_export.letta_api import LettaApi
from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE, State, app_uri
from tests import agent_fixtures as fx
from tests.rehearsal import down_later, local_stack, own_redis_port, redis_dir
from tests.test_rehearsal_e2e import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.letta, pytest.mark.postgres]

PASSAGES = 300  # 20 through Letta's API (it embeds them), the rest as Letta's rows straight into its tables
THROUGH_API = 10
BEFORE_COMPACTION = 4  # user messages before Letta's compaction takes them out of the context window
AFTER_COMPACTION = 2
QUERIES = ("chess", "sailing", "bread")  # one topic each: within a topic no two passages tie


@dataclass
class Moved:
    a: LettaApi
    b: LettaApi
    source_id: str
    target_id: str
    control_id: str
    export_dir: Path
    state_b: Path
    export_lines: list[str]
    import_lines: list[str]
    state_a: Path
    up_outputs: list[str]


def _up(state_dir: Path) -> subprocess.Popen[str]:
    command = ["up", "--offline", "--port", str(free_port()), "--llm-port", str(free_port())]
    return subprocess.Popen(
        [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _api(state_dir: Path) -> LettaApi:
    state = State.load(state_dir)
    assert state is not None
    return LettaApi(state.base_url, state.server_password, timeout=300)


def _run(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = agents.main([*argv, "--quiet"], say=lines.append)
    return code, lines


@pytest.fixture(scope="module", name="moved")
def moved_fixture() -> Iterator[Moved]:
    base = Path(tempfile.mkdtemp(prefix="letta-agents-"))
    base.chmod(0o755)  # PostgreSQL may run as an unprivileged user
    state_a, state_b = base / "a", base / "b"
    try:
        started = time.monotonic()
        ups = [_up(state_a), _up(state_b)]  # B's database stays empty of agents until the import
        up_outputs = []
        for up in ups:
            output, _ = up.communicate(timeout=1200)
            assert up.returncode == 0, output[-3000:]
            up_outputs.append(output)
        print(f"\nTIMING both up: {time.monotonic() - started:.0f} s")
        a, b = _api(state_a), _api(state_b)
        state = State.load(state_a)
        assert state is not None
        source_id = fx.create_agent(a, "moving-ada")
        fx.add_passages(a, source_id, THROUGH_API)
        fx.insert_passages_as_letta_does(app_uri(state), source_id, THROUGH_API, PASSAGES)
        for i in range(BEFORE_COMPACTION):
            fx.send(a, source_id, f"early message {i} about sailing")
        a.json("POST", f"/v1/agents/{source_id}/summarize", {"compaction_settings": {"mode": "all"}})
        for i in range(AFTER_COMPACTION):
            fx.send(a, source_id, f"late message {i} about chess")

        print(f"TIMING agent built: {time.monotonic() - started:.0f} s")
        export_dir = base / "export"
        code, export_lines = _run(
            "export", "--rehearsal", "--state-dir", str(state_a), "--all", "--out", str(export_dir)
        )
        assert code == 0, export_lines
        target = ["--rehearsal", "--state-dir", str(state_b), "--model", ECHO_MODEL_HANDLE]
        code, import_lines = _run(
            "import", *target, "--embedding", ECHO_EMBEDDING_HANDLE, "--from", str(export_dir), "--id-map",
            str(base / "map.json"),
        )  # fmt: skip
        assert code == 0, import_lines
        print(f"TIMING exported and imported: {time.monotonic() - started:.0f} s")
        mapping = json.loads((base / "map.json").read_text())
        target_id = mapping["agents"][source_id]["agent_id"]
        # The control: Letta's own agent file alone, through Letta's own import, into the same B.
        control_id = b.import_agent(
            a.export_agent(source_id), {"name": "control-af-only", "embedding": ECHO_EMBEDDING_HANDLE}
        )[0]
        yield Moved(
            a, b, source_id, target_id, control_id, export_dir, state_b, export_lines, import_lines, state_a, up_outputs
        )
    finally:
        down_later(base, (state_a, state_b))


def test_archival_search_in_b_returns_the_same_passages_in_the_same_order(moved: Moved) -> None:
    for query in QUERIES:
        in_a = fx.search(moved.a, moved.source_id, query, top_k=10)
        assert len(in_a) == 10
        assert fx.search(moved.b, moved.target_id, query, top_k=10) == in_a, query
    manifest = json.loads((moved.export_dir / "manifest.json").read_text())
    assert manifest["agents"][0]["counts"]["passages"] == PASSAGES
    assert len(moved.b.archives_of(moved.target_id)) == 1


def test_the_whole_history_arrives_and_the_agent_answers_in_b(moved: Moved) -> None:
    in_a, in_b = fx.messages(moved.a, moved.source_id), fx.messages(moved.b, moved.target_id)
    # system, 2 per exchange, Letta's summary message; the API may add its own views (e.g. reasoning)
    assert len(in_a) >= 1 + 2 * (BEFORE_COMPACTION + AFTER_COMPACTION) + 1
    assert len(in_b) == len(in_a)
    assert [_shown(m) for m in in_b[-4:]] == [_shown(m) for m in in_a[-4:]]
    assert [_shown(m) for m in in_b] == [_shown(m) for m in in_a]
    a_agent = moved.a.json("GET", f"/v1/agents/{moved.source_id}")
    b_agent = moved.b.json("GET", f"/v1/agents/{moved.target_id}")
    assert len(b_agent["message_ids"]) == len(a_agent["message_ids"]) < len(in_a)
    assert b_agent["name"] == a_agent["name"]
    reply = fx.send(moved.b, moved.target_id, "one more about jazz after the move")
    assert "Echo: one more about jazz after the move" in json.dumps(reply["messages"])
    assert len(fx.messages(moved.b, moved.target_id)) == len(in_a) + 2


def test_the_af_alone_loses_the_passages_and_the_history_outside_the_context(moved: Moved) -> None:
    control_passages = moved.b.json("GET", f"/v1/agents/{moved.control_id}/archival-memory?limit=1000")
    control_messages = fx.messages(moved.b, moved.control_id)
    assert control_passages == []
    in_a = fx.messages(moved.a, moved.source_id)
    assert len(control_messages) < len(in_a)
    assert _said(control_messages, "early message 0 about sailing") == 0  # only inside Letta's summary of them
    assert _said(fx.messages(moved.b, moved.target_id), "early message 0 about sailing") == 1
    print(
        f"\nFIGURES passages={PASSAGES} messages_a={len(in_a)} af_messages={len(control_messages)} "
        f"af_passages={len(control_passages)} queries_matched={len(QUERIES)}"
    )


def test_importing_the_same_export_again_refuses_skips_or_replaces(moved: Moved) -> None:
    where = ["--rehearsal", "--state-dir", str(moved.state_b), "--from", str(moved.export_dir)]
    code, lines = _run("import", *where)
    assert code == 7 and lines == []
    code, lines = _run("import", *where, "--existing", "skip")
    assert code == 0 and lines == [f"skipped {moved.source_id}: already imported into rehearsal "
                                   f"{moved.state_b} as {moved.target_id} (moving-ada)"]  # fmt: skip
    names = [a["name"] for a in moved.b.json("GET", "/v1/agents/?limit=100")]
    assert names.count("moving-ada") == 1


def test_unknown_agent_is_one_line(moved: Moved, capfd: pytest.CaptureFixture[str]) -> None:
    code, _ = _run("export", "--rehearsal", "--state-dir", str(moved.state_b), "--agent", "agent-nope", "--out",
                   str(moved.export_dir.parent / "never"))  # fmt: skip
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 5
    assert err == ["agents.py export: error: no agent with id 'agent-nope' (list them: scripts/agents.py list)"]
    assert not (moved.export_dir.parent / "never").exists()


def _said(messages: list[dict[str, Any]], text: str) -> int:
    """How many user messages say exactly ``text`` (Letta's summary quotes them inside a longer text)."""
    return sum(
        1 for m in messages if m.get("message_type") == "user_message" and json.dumps(text) in json.dumps(m["content"])
    )


def _shown(message: dict[str, Any]) -> tuple[Any, ...]:
    """What a client sees of a message, without the ids and the run/step it came from."""
    return (message.get("message_type"), json.dumps(message.get("content"), sort_keys=True), message.get("date"))


def test_two_rehearsals_side_by_side_stay_separate(moved: Moved) -> None:
    # Two rehearsals on one machine, as README's first command leaves one running while the tests start theirs:
    # nothing may be shared by accident, the Redis startup.sh starts least of all (on the image's fixed 6379 the
    # second Letta would have used the first one's).
    first, second = State.load(moved.state_a), State.load(moved.state_b)
    assert first is not None and second is not None
    assert len({first.port, second.port, first.pg_port, second.pg_port, first.llm_port, second.llm_port}) == 6
    assert first.server_password != second.server_password and first.encryption_key != second.encryption_key
    redis_ports = [own_redis_port(output) for output in moved.up_outputs]
    assert redis_ports[0] != redis_ports[1]
    # Each Redis runs in its own instance's /app: the one its own startup.sh started.
    assert redis_dir(redis_ports[0]) == str(moved.state_a / "letta-0" / "app")
    assert redis_dir(redis_ports[1]) == str(moved.state_b / "letta-0" / "app")
    down = local_stack(moved.state_b, "down", timeout=120)
    assert down.returncode == 0 and "letta-0: its private redis-server stopped" in down.stdout, down.stdout
    # Stopping the second leaves the first whole.
    assert redis_dir(redis_ports[1]) is None
    assert redis_dir(redis_ports[0]) == str(moved.state_a / "letta-0" / "app")
    status = local_stack(moved.state_a, "status", timeout=60)
    assert f"letta-0: healthy on 127.0.0.1:{first.port}" in status.stdout, status.stdout

#!/usr/bin/env python3
"""How long `agents.py export` and `import` take, and how many bytes a passage costs, for one agent with
10,000 archival passages and 5,000 messages, in a running rehearsal (`scripts/local_stack.py up --offline`).

The agent is made through Letta's API (one message exchange, one passage, so every row has Letta's shape), then
grown in SQL: passages as scripts/memory_bench/load.py writes them (1,536 filled dimensions zero-padded to
4,096), messages as copies of its exchange. Then export to a folder and import into the same rehearsal (a
second agent), each timed, with progress bars. Not part of the test suite: run it by hand.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psycopg

from scripts import agents
from scripts.agent_export.letta_api import LettaApi
from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE, STATE_DIR, State, app_uri
from scripts.memory_bench.letta_schema import OPENAI_SMALL_DIM
from scripts.memory_bench.load import padded_embeddings
from scripts.operator_cli import Parser, whole_number


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="benchmark_agents.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=f"the rehearsal (default {STATE_DIR})")
    parser.add_argument("--passages", type=whole_number(1, 1_000_000), default=10_000, help="default 10000")
    parser.add_argument("--messages", type=whole_number(4, 1_000_000), default=5_000, help="default 5000")
    return parser


def grow(dsn: str, agent_id: str, passages: int, messages: int) -> None:
    """Add passages (random unit vectors) and message pairs to the agent, in SQL."""
    rng = np.random.default_rng(23)
    with psycopg.connect(dsn) as conn:
        archive_id, org, config = conn.execute(
            "SELECT p.archive_id, p.organization_id, p.embedding_config::text FROM archival_passages p "
            "JOIN archives_agents aa ON aa.archive_id = p.archive_id WHERE aa.agent_id = %s LIMIT 1",
            (agent_id,),
        ).fetchone()
        with conn.cursor() as cursor:
            for start in range(1, passages, 1000):
                n = min(1000, passages - start)
                vectors = padded_embeddings(rng, n, OPENAI_SMALL_DIM)
                cursor.executemany(
                    "INSERT INTO archival_passages (id, text, embedding_config, metadata_, tags, embedding, created_at,"
                    " updated_at, is_deleted, organization_id, archive_id) VALUES (gen_random_uuid()::text, %s,"
                    " %s::json, '{}', '[\"bench\"]', %s::vector, now(), now(), false, %s, %s)",
                    [
                        (f"Benchmark passage {start + i}: " + "remember this detail about the user " * 8, config,
                         "[" + ",".join(map(repr, v.tolist())) + "]", org, archive_id)
                        for i, v in enumerate(vectors)
                    ],
                )  # fmt: skip
        have = conn.execute("SELECT count(*) FROM messages WHERE agent_id = %s", (agent_id,)).fetchone()[0]
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages' "
                "AND column_name NOT IN ('id', 'sequence_id', 'created_at')"
            )
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        conn.execute(
            f"INSERT INTO messages (id, created_at, {names}) SELECT 'message-' || gen_random_uuid(), "
            f"now() + make_interval(secs => g), {names} FROM messages m, generate_series(1, %s) g "
            "WHERE m.agent_id = %s AND m.role IN ('user', 'assistant') ORDER BY g, m.sequence_id",
            ((messages - have) // 2, agent_id),
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state = State.load(args.state_dir.resolve())
    if state is None:
        print(f"benchmark_agents.py: no rehearsal in {args.state_dir}: run scripts/local_stack.py up --offline")
        return 1
    api = LettaApi(state.base_url, state.server_password)
    agent = api.json(
        "POST",
        "/v1/agents/",
        {"name": f"bench-{int(time.time())}", "model": ECHO_MODEL_HANDLE, "embedding": ECHO_EMBEDDING_HANDLE,
         "memory_blocks": [{"label": "human", "value": "benchmark"}]},
    )  # fmt: skip
    api.json("POST", f"/v1/agents/{agent['id']}/messages", {"messages": [{"role": "user", "content": "hello"}]})
    api.json("POST", f"/v1/agents/{agent['id']}/archival-memory", {"text": "Benchmark passage 0"})
    grow(app_uri(state), agent["id"], args.passages, args.messages)
    work = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    where = ["--rehearsal", "--state-dir", str(args.state_dir)]
    try:
        started = time.monotonic()
        if agents.main(["export", *where, "--agent", agent["id"], "--out", str(work / "export")]) != 0:
            return 1
        exported = time.monotonic() - started
        folder = work / "export" / "agents" / agent["id"]
        passage_bytes = (folder / "passages.jsonl").stat().st_size
        total = sum(p.stat().st_size for p in (work / "export").rglob("*") if p.is_file())
        started = time.monotonic()
        if agents.main(["import", *where, "--from", str(work / "export"), "--existing", "replace"]) != 0:
            return 1
        imported = time.monotonic() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nRESULT passages={args.passages} messages={args.messages} export={exported:.1f}s import={imported:.1f}s "
        f"passages.jsonl={passage_bytes} bytes ({passage_bytes / args.passages:.0f} bytes/passage) "
        f"export folder={total} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

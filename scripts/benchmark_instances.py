#!/usr/bin/env python3
"""Two-instance figures of the local rehearsal, with the offline echo LLM (so they measure Letta, PostgreSQL and
Redis, not a provider):

1. message round-trip p50/p95 at 1 and 2 instances, with SQLAlchemy pooling off (Letta 0.16.8's default,
   `LETTA_DISABLE_SQLALCHEMY_POOLING=true`) and, with `--pooling off,on`, on. Pooling on makes Letta's asyncpg
   engine demand TLS (`ssl="require"` unless the URI says otherwise, and a `?sslmode=` in the URI breaks the
   migrations), and the wheel's PostgreSQL is built without SSL, so `on` fails against the plain rehearsal;
2. peak PostgreSQL connections per instance in each mode: `pg_stat_activity` sampled every 100 ms, each
   backend's client port mapped to the instance whose processes own that socket (psutil);
3. the shared Redis's memory (`INFO memory`) before and after 1,000 messages at 2 instances.

Each mode gets its own fresh rehearsal (state in a temporary folder, wiped after), on free ports.

    .venv/bin/python scripts/benchmark_instances.py [--messages 100] [--clients 4] [--redis-messages 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import psycopg
from tabulate import tabulate

from scripts.local_stack import State, app_uri, down, up
from scripts.operator_cli import Parser, output_file, whole_number, whole_numbers, words
from scripts.rehearsal.processes import free_port, owned


def connection_owners(state: State) -> dict[int, int]:
    """Local TCP port -> instance index, for every socket the instances' processes hold to PostgreSQL."""
    owners = {}
    for index in range(len(state.letta_ports)):
        root = owned(state.procs.get(f"letta-{index}"))
        for process in [root, *root.children(recursive=True)] if root else []:
            try:
                for conn in process.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == state.pg_port:
                        owners[conn.laddr.port] = index
            except psutil.Error:
                continue
    return owners


class ConnectionSampler(threading.Thread):
    """Samples `pg_stat_activity` for the app role until stopped; keeps the peak per instance."""

    def __init__(self, state: State) -> None:
        super().__init__(daemon=True)
        self.state, self.peak, self.done = state, [0] * len(state.letta_ports), threading.Event()

    def run(self) -> None:
        query = "SELECT client_port FROM pg_stat_activity WHERE usename = 'letta_app' AND client_port IS NOT NULL"
        with psycopg.connect(app_uri(self.state), autocommit=True) as conn:
            own_port = conn.execute("SELECT inet_client_port()").fetchone()
            while not self.done.wait(0.1):
                ports = {row[0] for row in conn.execute(query).fetchall()} - {own_port[0] if own_port else None}
                owners = connection_owners(self.state)
                for index in range(len(self.peak)):
                    count = sum(1 for port in ports if owners.get(port) == index)
                    self.peak[index] = max(self.peak[index], count)


def load(state: State, messages: int, clients: int) -> list[float]:
    """`messages` messages spread over `clients` agents, one client thread each; the seconds of each round trip."""
    headers = {"Authorization": f"Bearer {state.server_password}"}
    with httpx.Client(base_url=state.base_url, headers=headers, timeout=120) as client:
        agents = []
        for i in range(clients):
            body = {"name": f"bench-{i}", "model": "openai-proxy/echo-1", "embedding": "openai/text-embedding-3-small"}
            agents.append(client.post("/v1/agents/", json=body).raise_for_status().json()["id"])

        def talk(agent_id: str) -> list[float]:
            seconds = []
            for n in range(messages // clients):
                body = {"agent_id": agent_id, "streaming": False, "messages": [{"role": "user", "content": f"m{n}"}]}
                started = time.perf_counter()
                client.post("/v1/conversations/default/messages", json=body).raise_for_status()
                seconds.append(time.perf_counter() - started)
            return seconds

        with ThreadPoolExecutor(clients) as pool:
            return [s for per_agent in pool.map(talk, agents) for s in per_agent]


def redis_memory(state: State) -> int:
    redis = psutil.Process(int(state.procs["redis"][0]))  # its title no longer shows its arguments
    port = next(c.laddr.port for c in redis.net_connections() if c.status == psutil.CONN_LISTEN)
    info = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True, text=True, check=True)
    return int(next(line.split(":")[1] for line in info.stdout.splitlines() if line.startswith("used_memory:")))


def run_mode(instances: int, pooling: bool, messages: int, clients: int, redis_messages: int) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix="letta-bench-"))
    base.chmod(0o755)
    pool_env = {"LETTA_DISABLE_SQLALCHEMY_POOLING": "false" if pooling else "true"}
    try:
        state = up(
            base / "state", offline=True, port=free_port(), llm_port=free_port(), instances=instances,
            extra_env=pool_env, log=lambda _line: None,
        )  # fmt: skip
        load(state, clients, clients)  # warm-up: first calls import and cache
        sampler = ConnectionSampler(state)
        sampler.start()
        seconds = load(state, messages, clients)
        sampler.done.set()
        sampler.join()
        row: dict[str, object] = {
            "instances": instances,
            "pooling": "on" if pooling else "off",
            "messages": len(seconds),
            "p50 ms": round(statistics.median(seconds) * 1000),
            "p95 ms": round(statistics.quantiles(seconds, n=20)[18] * 1000),
            "peak connections per instance": " / ".join(map(str, sampler.peak)),
        }
        if redis_messages and instances == 2:
            before = redis_memory(state)
            load(state, redis_messages, clients)
            row["redis"] = {"messages": redis_messages, "before": before, "after": redis_memory(state)}
        return row
    finally:
        down(base / "state", wipe=True, log=lambda _line: None)
        shutil.rmtree(base, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(
        prog="benchmark_instances.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=whole_number(1, 100_000), default=100, help="messages per mode")
    parser.add_argument("--clients", type=whole_number(1, 64), default=4, help="concurrent clients, one agent each")
    parser.add_argument(
        "--redis-messages", type=whole_number(0, 1_000_000), default=1000, help="messages before Redis memory is read"
    )
    parser.add_argument("--instances", type=whole_numbers(1, 2), default="1,2", help="comma-separated, each 1 or 2")
    parser.add_argument(
        "--pooling", type=words(("off", "on")), default="off", help="comma-separated: off, on (on needs TLS)"
    )
    parser.add_argument("--json", type=output_file, help="also write the results here")
    args = parser.parse_args(argv)
    rows = []
    for instances in args.instances:
        for pooling in [mode == "on" for mode in args.pooling]:
            rows.append(run_mode(instances, pooling, args.messages, args.clients, args.redis_messages))
            print(json.dumps(rows[-1]), flush=True)
    print(tabulate([{k: v for k, v in r.items() if k != "redis"} for r in rows], headers="keys", tablefmt="github"))
    for row in rows:
        if "redis" in row:
            redis: dict[str, int] = row["redis"]  # type: ignore[assignment]
            before, after, count = redis["before"], redis["after"], redis["messages"]
            print(f"\nshared Redis used_memory: {before:,} B before, {after:,} B after {count:,} messages")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

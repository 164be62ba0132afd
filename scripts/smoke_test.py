#!/usr/bin/env python3
"""Prove a Letta deployment works end to end, as the walkthrough's test_aurora_agent.py does, then look in
the database to see that the agent's memory really landed there.

    python scripts/smoke_test.py --env dev                      # a deployed environment (stack outputs)
    python scripts/smoke_test.py --base-url URL [--token-file F] [--dsn URI]   # any Letta server, e.g. a local one

No secret on the command line: the server password comes from the data stack's secret, ``--token-file`` (mode
0600) or ``$LETTA_SERVER_PASSWORD``; the database password (``--dsn``) from PGPASSWORD or ~/.pgpass.

Exit 0 only when every check held; otherwise one line on stderr and the code of the step that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scripts.inspect_db import ClientFactory, data_api_executor, psycopg_executor
from scripts.operator_cli import (
    EXIT_OK,
    EXIT_USAGE,
    PASSWORD_HINT,
    OperatorError,
    Parser,
    dsn_argument,
    http_url,
    one_line,
    refused_secret,
    region,
    seconds,
    secret_file,
)
from scripts.stack_outputs import (
    StackOutputsError,
    aws_client,
    env_argument,
    read_secret_json,
    require_outputs,
    stack_name,
    stack_outputs,
)
from stacks.letta_contract import HEALTH_PATH, PORT
from stacks.pgsql.errors import BootstrapError, StatementError
from stacks.pgsql.executor import Executor
from stacks.pgsql.sql_text import quote_literal

EXIT_STACK = 3  # stack outputs or the server password could not be read
EXIT_HEALTH = 4  # /v1/health/ did not answer 200 in time
EXIT_AGENT = 5  # creating the agent, messaging it or its archival memory failed
EXIT_DATABASE = 6  # the database does not show what the API said it stored
EXIT_CLEANUP = 7  # everything held, but the test agent could not be deleted

# The walkthrough's agent, word for word.
HUMAN = "Name: Test User"
PERSONA = "I am a helpful AI assistant with persistent memory stored in Aurora."
MESSAGE = "Hello! Can you remember that my favorite color is blue?"
PASSAGE = "The user's favorite color is blue."
DEFAULT_MODEL = "openai/gpt-4o-mini"
DEFAULT_EMBEDDING = "openai/text-embedding-3-small"


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str | None
    database: Callable[[], Executor] | None  # opens the executor for the database checks, if any
    database_label: str


def wait_for_health(base_url: str, *, timeout: float, interval: float = 5.0, out: Any = sys.stdout) -> str:
    """Polls GET /v1/health/ until it answers 200; returns the server version. One progress line a try."""
    url = base_url.rstrip("/") + HEALTH_PATH
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer yet"
    while True:
        elapsed = time.monotonic() - started
        # No single try, and no pause, runs past the deadline: the whole wait stays within `timeout`.
        try:
            with urllib.request.urlopen(url, timeout=max(0.1, min(10.0, deadline - time.monotonic()))) as response:
                body = json.loads(response.read() or b"{}")
                print(f"health: {url} -> 200 after {elapsed:.0f} s (Letta {body.get('version', '?')})", file=out)
                return str(body.get("version", ""))
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OperatorError(f"{url} not healthy after {timeout:g} s (last: {last})", EXIT_HEALTH)
        print(f"health: waiting for {url} ({elapsed:.0f}/{timeout:.0f} s, last: {last})", file=out, flush=True)
        time.sleep(min(interval, remaining))


def assistant_text(messages: Sequence[Any]) -> str:
    """The assistant's reply in a Letta response, content as a string or as a list of text parts."""
    parts = []
    for message in messages:
        if _get(message, "message_type") != "assistant_message":
            continue
        content = _get(message, "content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(_get(item, "text") or "") for item in content if _get(item, "type") == "text"]
    return "\n".join(p for p in parts if p)


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def run_agent_flow(client: Any, *, model: str, embedding: str, archival: bool, out: Any = sys.stdout) -> str:
    """Creates the walkthrough's agent, sends its message, prints the reply; returns the agent id."""
    try:
        agent = client.agents.create(
            name=f"smoke-test-{int(time.time())}",
            memory_blocks=[{"label": "human", "value": HUMAN}, {"label": "persona", "value": PERSONA}],
            model=model,
            embedding=embedding,
        )
    except Exception as exc:  # the client raises its own hierarchy; any failure here is this step's
        raise OperatorError(f"creating the agent failed: {_one_line(exc)}", EXIT_AGENT) from None
    print(f"Created agent: {agent.id}", file=out)
    try:
        response = client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": MESSAGE}])
    except Exception as exc:
        raise OperatorError(f"agent {agent.id}: sending the message failed: {_one_line(exc)}", EXIT_AGENT) from None
    reply = assistant_text(list(_get(response, "messages") or []))
    if not reply:
        raise OperatorError(f"agent {agent.id} answered without an assistant message", EXIT_AGENT)
    print(f"\nAgent: {reply}\n", file=out)
    if archival:
        try:
            client.agents.passages.create(agent_id=agent.id, text=PASSAGE)
            found = client.agents.passages.search(agent_id=agent.id, query="favorite color")
        except Exception as exc:
            raise OperatorError(f"agent {agent.id}: archival memory failed: {_one_line(exc)}", EXIT_AGENT) from None
        results = _get(found, "results") or []
        if not any("blue" in str(_get(r, "content") or _get(r, "text") or "") for r in results):
            raise OperatorError(f"agent {agent.id}: archival search did not find the stored passage", EXIT_AGENT)
        print(f"archival memory: stored and found '{PASSAGE}'", file=out)
    return str(agent.id)


def check_database(executor: Executor, agent_id: str, *, archival: bool, out: Any = sys.stdout) -> None:
    """The agent, its messages (and passage) are rows in the database; pgvector is installed."""
    agent = quote_literal(agent_id)
    checks = [
        ("agent row in agents", f"SELECT count(*) FROM agents WHERE id = {agent}", 1),
        ("its messages in messages", f"SELECT count(*) FROM messages WHERE agent_id = {agent}", 2),
        ("vector in pg_extension", "SELECT count(*) FROM pg_extension WHERE extname = 'vector'", 1),
    ]
    if archival:
        # Passages hang off an archive, not the agent; the text is what the API stored a moment ago.
        checks.append(
            (
                "the passage in archival_passages",
                f"SELECT count(*) FROM archival_passages WHERE text = {quote_literal(PASSAGE)}",
                1,
            )
        )
    for label, sql, at_least in checks:
        try:
            rows = executor.execute(sql)
        except (StatementError, BootstrapError) as exc:
            raise OperatorError(f"database check '{label}' failed: {_one_line(exc)}", EXIT_DATABASE) from None
        count = int(rows[0][0]) if rows else 0
        if count < at_least:
            raise OperatorError(f"database check '{label}': found {count}, expected at least {at_least}", EXIT_DATABASE)
        print(f"database: {label}: {count}", file=out)


def resolve_target(args: argparse.Namespace, client_factory: ClientFactory) -> Target:
    """Where the server and its database are: flags first, stack outputs for what they leave open."""
    if args.base_url:
        token = args.token or os.environ.get("LETTA_SERVER_PASSWORD")
        database = (lambda: psycopg_executor(args.dsn, timeout=args.db_timeout)) if args.dsn else None
        return Target(args.base_url, token, database, "psycopg" if args.dsn else "")
    try:
        cloudformation = client_factory("cloudformation", args.region)
        name = stack_name(args.env, "service")
        (base_url,) = require_outputs(stack_outputs(cloudformation, name), name, "ApiUrl")
        token = args.token
        if not token:
            # The password clients hold lives with the data, in the data stack.
            data = stack_name(args.env, "data")
            (secret_arn,) = require_outputs(stack_outputs(cloudformation, data), data, "ServerPasswordSecretArn")
            token = _read_password(client_factory("secretsmanager", args.region), secret_arn)
    except (StackOutputsError, ValueError) as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None

    def database() -> Executor:
        if args.dsn:
            return psycopg_executor(args.dsn, timeout=args.db_timeout)
        executor, _ = data_api_executor(
            # As the app role: it owns Letta's tables, and Aurora's master user (not a true superuser) cannot read them.
            args.env,
            region=args.region,
            use_master=False,
            timeout=args.db_timeout,
            client_factory=client_factory,
        )
        return executor

    return Target(base_url, token, database, f"Data API ({stack_name(args.env, 'data')})")


def _read_password(secrets_client: Any, secret_arn: str) -> str:
    (password,) = read_secret_json(secrets_client, secret_arn, "password")
    return password


def _one_line(exc: BaseException) -> str:
    text = one_line(str(exc))
    return text[:300] + ("..." if len(text) > 300 else "")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="smoke_test.py",
        description="Create the walkthrough's agent on a Letta server, message it, check its rows in the "
        f"database, delete it. Exit codes: {EXIT_OK} all checks held; {EXIT_USAGE} bad arguments; 3 stack "
        "outputs or server password unreadable; 4 /v1/health/ not healthy in time; 5 agent step failed; "
        "6 database check failed; 7 the test agent could not be deleted.",
    )
    where = parser.add_argument_group("where the server is (deployed stacks, or a URL)")
    where.add_argument(
        "--env", default="dev", type=env_argument, help="environment whose stacks to read (letta-<env>-*); default dev"
    )
    where.add_argument(
        "--region", type=region, help="AWS region of the stacks (default: AWS_DEFAULT_REGION or your AWS profile's)"
    )
    where.add_argument(
        "--base-url",
        type=http_url,
        help=f"a Letta server's http(s) URL, e.g. http://127.0.0.1:{PORT} (skips the stacks)",
    )
    where.add_argument(
        "--token-file",
        dest="token",
        type=secret_file,
        metavar="FILE",
        help="a file (mode 0600) holding the server password (Bearer token); default: $LETTA_SERVER_PASSWORD with "
        "--base-url, else the data stack's secret",
    )
    where.add_argument(
        "--token",
        dest="token_in_argv",
        type=refused_secret(
            "put the server password in a file (mode 0600) for --token-file, or in $LETTA_SERVER_PASSWORD"
        ),
        help=argparse.SUPPRESS,
    )
    where.add_argument(
        "--dsn",
        type=dsn_argument,
        metavar="URI",
        help="check the database through psycopg at this URI instead of the Data API (required with --base-url "
        f"for database checks; without it they are skipped and said so). No password in it: {PASSWORD_HINT}",
    )
    agent = parser.add_argument_group("the agent")
    agent.add_argument("--model", default=DEFAULT_MODEL, help=f"LLM handle (default {DEFAULT_MODEL})")
    agent.add_argument("--embedding", default=DEFAULT_EMBEDDING, help=f"embedding handle (default {DEFAULT_EMBEDDING})")
    agent.add_argument("--no-archival", action="store_true", help="skip storing and searching an archival passage")
    agent.add_argument("--keep", action="store_true", help="keep the test agent instead of deleting it")
    limits = parser.add_argument_group("time limits (seconds)")
    limits.add_argument(
        "--health-timeout",
        type=seconds(3600),
        default=300,
        help=f"wait for {HEALTH_PATH}, up to 3600 (default 300)",
    )
    limits.add_argument(
        "--timeout", type=seconds(3600), default=600, help="one API call, as the walkthrough, up to 3600 (default 600)"
    )
    limits.add_argument(
        "--db-timeout", type=seconds(3600), default=120, help="database checks, up to 3600 (default 120)"
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory = aws_client,
    letta_factory: Callable[..., Any] | None = None,
    out: Any = sys.stdout,
) -> int:
    args = build_parser().parse_args(argv)
    archival = not args.no_archival
    try:
        target = resolve_target(args, client_factory)
        wait_for_health(target.base_url, timeout=args.health_timeout, out=out)
        # No client retries: a retried message is a second message, processed twice by the agent.
        client = (letta_factory or _letta_client)(
            base_url=target.base_url, api_key=target.token, timeout=args.timeout, max_retries=0
        )
        agent_id = run_agent_flow(client, model=args.model, embedding=args.embedding, archival=archival, out=out)
        try:
            if target.database is None:
                print("database: skipped (give --dsn, or --env for the Data API)", file=out)
            else:
                print(f"database: checking through {target.database_label}", file=out)
                try:
                    executor = target.database()
                except OperatorError as exc:  # the database could not be opened: a database failure here
                    raise OperatorError(str(exc), EXIT_DATABASE) from None
                check_database(executor, agent_id, archival=archival, out=out)
        finally:
            if not args.keep:
                _delete(client, agent_id, out)
    except OperatorError as exc:
        return _fail(str(exc), exc.exit_code)
    print("smoke test: all checks passed", file=out)
    return EXIT_OK


def _delete(client: Any, agent_id: str, out: Any) -> None:
    try:
        client.agents.delete(agent_id=agent_id)
    except Exception as exc:
        raise OperatorError(f"could not delete test agent {agent_id}: {_one_line(exc)}", EXIT_CLEANUP) from None
    print(f"deleted test agent {agent_id}", file=out)


def _letta_client(**kwargs: Any) -> Any:
    from letta_client import Letta  # imported late: --help and argument errors need no client

    return Letta(**kwargs)


def _fail(message: str, code: int) -> int:
    print(f"smoke test FAILED: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Look at a Letta database: the walkthrough's "View agent state in Aurora" queries as one command.

Through the RDS Data API by default (no network path into the VPC needed), or through psycopg with
``--dsn``. Run ``python scripts/inspect_db.py --help`` for every flag and the exit codes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from botocore.config import Config
from botocore.exceptions import BotoCoreError
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tabulate import tabulate

from scripts.operator_cli import (
    EXIT_OK,
    EXIT_USAGE,
    PASSWORD_HINT,
    OperatorError,
    Parser,
    dsn_argument,
    one_line,
    region,
    seconds,
    whole_number,
)
from scripts.operator_cli import fail as shared_fail
from scripts.stack_outputs import (
    StackOutputsError,
    aws_client,
    env_argument,
    require_outputs,
    stack_name,
    stack_outputs,
)
from stacks.pgsql.bootstrap import VERSION_QUERY
from stacks.pgsql.connection_string import redact
from stacks.pgsql.data_api import DataApiExecutor
from stacks.pgsql.errors import BootstrapError, StatementError
from stacks.pgsql.executor import Executor
from stacks.pgsql.psycopg_executor import PsycopgExecutor
from stacks.pgsql.sql_text import quote_literal

EXIT_STACK = 3  # the stack or one of its outputs is missing, or AWS refused to describe it
EXIT_CONNECTION = 4  # the database could not be reached
EXIT_SCHEMA = 5  # a Letta table is missing: Letta has not migrated this database (yet)
EXIT_NO_AGENT = 6  # --agent names no agent
EXIT_QUERY = 7  # the database rejected a query (permissions, ...)

LETTA_TABLES = ("agents", "archival_passages", "messages", "source_passages")
DEFAULT_LIMIT = 10
DEFAULT_WIDTH = 100
DEFAULT_MAX_AGENTS = 100
DEFAULT_TIMEOUT_S = 60.0
ELLIPSIS = "..."
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def _utc(column: str) -> str:
    """SQL rendering ``column`` (a timestamptz) as ISO 8601 UTC text.

    Formatted in SQL so both executors return the same string: the Data API returns text in its own
    format, psycopg a datetime in the session's time zone.
    """
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


# pg_tables, not information_schema.tables: the latter lists only tables the current user may access, and
# Letta's tables belong to the app role, so the master user would count 0.
SUMMARY_SQL = f"""SELECT
  (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'),
  ({VERSION_QUERY}),
  (SELECT string_agg(name, ',' ORDER BY name)
     FROM unnest(ARRAY[{", ".join(quote_literal(t) for t in LETTA_TABLES)}]) AS name
    WHERE to_regclass('public.' || name) IS NULL)"""

COUNTS_SQL = """SELECT
  (SELECT count(*) FROM public.agents),
  (SELECT count(*) FROM public.archival_passages),
  (SELECT count(*) FROM public.source_passages)"""

# Text parts joined in order: Letta's content is a JSON array of typed parts (text, reasoning, tool_call,
# tool_return, image, ...). The text is extracted and cut in SQL so that a long system prompt never travels
# whole: the Data API refuses responses over 1 MiB.
_MESSAGE_TEXT = """coalesce((
    SELECT string_agg(
             CASE
               WHEN json_typeof(p.part) = 'string' THEN p.part #>> '{}'
               WHEN json_typeof(p.part) = 'null' THEN NULL
               WHEN json_typeof(p.part) <> 'object' THEN p.part::text
               WHEN p.part ->> 'type' = 'tool_call'
                 THEN coalesce(p.part ->> 'name', 'tool') || '(' || coalesce(p.part ->> 'input', '') || ')'
               ELSE coalesce(p.part ->> 'text', p.part ->> 'reasoning', p.part ->> 'content',
                             '[' || coalesce(p.part ->> 'type', 'object') || ']')
             END, ' ' ORDER BY p.n)
      FROM json_array_elements(
             CASE WHEN json_typeof(r.content) = 'array' THEN r.content ELSE json_build_array(r.content) END
           ) WITH ORDINALITY AS p(part, n)
  ), '')"""


def agents_sql(max_agents: int) -> str:
    """The first ``max_agents`` agents, oldest first (the walkthrough's ``SELECT id, name, created_at``)."""
    return f"SELECT id, name, {_utc('created_at')} FROM public.agents ORDER BY created_at, id LIMIT {int(max_agents)}"


def agent_sql(agent_id: str) -> str:
    """The name of one agent (no row when there is no such agent)."""
    return f"SELECT name FROM public.agents WHERE id = {quote_literal(agent_id)}"


def messages_sql(agent_id: str, *, limit: int, width: int) -> str:
    """The agent's ``limit`` most recent messages, oldest first, text cut to ``width`` + 1 characters.

    One character more than shown, so that the caller can tell a cut text from one that fits exactly.
    """
    return f"""WITH r AS (
  SELECT id, role, content::json AS content, created_at
    FROM public.messages
   WHERE agent_id = {quote_literal(agent_id)}
   ORDER BY created_at DESC, id DESC
   LIMIT {int(limit)}
)
SELECT r.id, r.role, left({_MESSAGE_TEXT}, {int(width) + 1}), {_utc("r.created_at")}
  FROM r
 ORDER BY r.created_at, r.id"""


@dataclass
class Report:
    """What the inspection found; the JSON output is this, field for field."""

    source: dict[str, str]
    tables_in_public: int
    pgvector_version: str | None
    passages: dict[str, int]
    agent_count: int
    agents: list[dict[str, Any]]
    messages: dict[str, Any] | None = None


def collect(
    executor: Executor,
    *,
    source: dict[str, str],
    agent_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    width: int = DEFAULT_WIDTH,
    max_agents: int = DEFAULT_MAX_AGENTS,
) -> Report:
    """Run the inspection queries on ``executor``; raises ``OperatorError`` (schema, agent) or ``StatementError``."""
    tables, pgvector, missing = executor.execute(SUMMARY_SQL)[0]
    if missing:
        names = ", ".join(f"public.{name}" for name in missing.split(","))
        raise OperatorError(
            f"no such table: {names} ({tables} tables in public, pgvector {pgvector or 'not installed'}); "
            "has Letta started against this database and run its migrations?",
            EXIT_SCHEMA,
        )
    agent_count, archival, source_passages = executor.execute(COUNTS_SQL)[0]
    agents = [{"id": row[0], "name": row[1], "created_at": row[2]} for row in executor.execute(agents_sql(max_agents))]
    report = Report(
        source=source,
        tables_in_public=int(tables),
        pgvector_version=pgvector,
        passages={"archival": int(archival), "source": int(source_passages)},
        agent_count=int(agent_count),
        agents=agents,
    )
    if agent_id is not None:
        report.messages = collect_messages(executor, agent_id, limit=limit, width=width)
    return report


def collect_messages(executor: Executor, agent_id: str, *, limit: int, width: int) -> dict[str, Any]:
    """The agent's recent messages; raises ``OperatorError`` when there is no such agent."""
    found = executor.execute(agent_sql(agent_id))
    if not found:
        raise OperatorError(f"no agent with id {agent_id!r} (list them without --agent)", EXIT_NO_AGENT)
    items = []
    for message_id, role, text, created_at in executor.execute(messages_sql(agent_id, limit=limit, width=width)):
        text = text or ""
        truncated = len(text) > width
        items.append(
            {
                "id": message_id,
                "role": role,
                "text": text[: width - len(ELLIPSIS)].rstrip() + ELLIPSIS if truncated else text,
                "truncated": truncated,
                "created_at": created_at,
            }
        )
    return {"agent_id": agent_id, "agent_name": found[0][0], "limit": limit, "items": items}


# Rendering


def render_json(report: Report) -> str:
    """The report as indented JSON (stable key order: the dataclass's)."""
    return json.dumps(asdict(report), indent=2, ensure_ascii=False)


def render_text(report: Report) -> str:
    """The report as aligned tables for a terminal."""
    lines = [
        f"Letta database via {describe_source(report.source)}",
        f"Tables in public:  {report.tables_in_public}",
        f"pgvector:          {report.pgvector_version or 'not installed'}",
        f"Archival passages: {report.passages['archival']}",
        f"Source passages:   {report.passages['source']}",
        "",
        f"Agents ({_shown(len(report.agents), report.agent_count)})",
        *format_table(
            ("id", "name", "created_at"), [(a["id"], a["name"] or "", a["created_at"] or "") for a in report.agents]
        ),
    ]
    if report.messages is not None:
        messages = report.messages
        lines += [
            "",
            f"Messages of {messages['agent_id']} ({messages['agent_name']}): "
            f"{len(messages['items'])} most recent, oldest first",
            *format_table(
                ("role", "content", "created_at"),
                [(m["role"] or "", one_line(m["text"]), m["created_at"] or "") for m in messages["items"]],
            ),
        ]
    return "\n".join(lines)


def describe_source(source: dict[str, str]) -> str:
    """One line naming where the data came from (never a password)."""
    if source["via"] == "data-api":
        return f"Data API: stack {source['stack']}, database {source['database']}, as the {source['role']} user"
    return f"psycopg: {source['dsn']}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a left-aligned table with a dashed rule under the headers (tabulate's "simple"); ``(none)``
    when empty."""
    if not rows:
        return ["(none)"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True).splitlines()


def _shown(shown: int, total: int) -> str:
    return str(total) if shown == total else f"{shown} of {total}, oldest first"


# Connecting


def describe_dsn(dsn: str) -> str:
    """``dsn`` without its password: ``redact`` for a URI; a key=value string is rebuilt without it."""
    if "://" in dsn and "password" not in dsn.partition("?")[2]:
        return redact(dsn)
    params = conninfo_to_dict(dsn)  # also a URI with ?password=..., which redact leaves as it is
    if "password" in params:
        params["password"] = "****"
    return make_conninfo(**params)


def psycopg_executor(dsn: str, *, timeout: float) -> PsycopgExecutor:
    """A connected ``PsycopgExecutor``; raises ``OperatorError`` (connection failure) without the password."""
    try:
        return PsycopgExecutor(dsn, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        raise OperatorError(
            f"cannot connect to {describe_dsn(dsn)}: {scrub(one_line(str(exc)), dsn)}", EXIT_CONNECTION
        ) from None


def scrub(message: str, dsn: str) -> str:
    """``message`` with the DSN's password replaced, in case a driver ever quotes it."""
    password = conninfo_to_dict(dsn).get("password")
    return message.replace(str(password), "****") if password else message


ClientFactory = Callable[..., Any]


def data_api_executor(
    env: str, *, region: str | None, use_master: bool, timeout: float, client_factory: ClientFactory
) -> tuple[Executor, dict[str, str]]:
    """A ``DataApiExecutor`` for the environment's cluster, and the report's ``source``.

    Raises ``OperatorError`` (stack or output missing, AWS refused).
    """
    name = stack_name(env, "data")
    secret_key = "MasterSecretArn" if use_master else "AppSecretArn"
    try:
        outputs = stack_outputs(client_factory("cloudformation", region), name)
        cluster_arn, secret_arn, database = require_outputs(outputs, name, "ClusterArn", secret_key, "DatabaseName")
        # botocore's own retries off: the executor retries a resuming cluster until its deadline.
        rds_data = client_factory("rds-data", region, config=Config(retries={"total_max_attempts": 1}))
    except StackOutputsError as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None
    executor = DataApiExecutor(
        rds_data,
        resource_arn=cluster_arn,
        secret_arn=secret_arn,
        database=database,
        deadline=time.monotonic() + timeout,
    )
    role = "master" if use_master else "app"
    return executor, {"via": "data-api", "stack": name, "database": database, "role": role}


# Command line


def build_parser() -> argparse.ArgumentParser:
    """The command line, with every flag explained in ``--help``."""
    parser = Parser(
        prog="inspect_db.py",
        description=(
            "Show what Letta keeps in its database: the number of tables in schema public, the pgvector\n"
            "version, the counts of archival and source passages, the agents (id, name, created_at) and,\n"
            "with --agent, that agent's most recent messages (role, the text inside Letta's JSON content,\n"
            "created_at).\n"
            "\n"
            "By default it reads the outputs of stack letta-<env>-data with CloudFormation and queries\n"
            "through the RDS Data API, which needs no network path into the VPC. --dsn queries a\n"
            "PostgreSQL server directly instead (a local rehearsal, or a tunnel to the cluster)."
        ),
        epilog=(
            "exit codes:\n"
            f"  {EXIT_OK}  success\n"
            f"  {EXIT_USAGE}  bad command line\n"
            f"  {EXIT_STACK}  stack letta-<env>-data or one of its outputs not found, or AWS refused to describe it\n"
            f"  {EXIT_CONNECTION}  the database could not be reached (--dsn), or the Data API stayed unavailable "
            "until --timeout\n"
            f"  {EXIT_SCHEMA}  a Letta table is missing: Letta has not migrated this database yet\n"
            f"  {EXIT_NO_AGENT}  --agent names no agent\n"
            f"  {EXIT_QUERY}  the database rejected a query (for example permission denied)\n"
            "\n"
            "examples:\n"
            "  python scripts/inspect_db.py                  # environment dev, Data API, region from AWS settings\n"
            "  python scripts/inspect_db.py --env prod --region eu-west-1 --json\n"
            "  python scripts/inspect_db.py --agent agent-29cdd087-44a7-4dd4-b34e-d38dd5ef2935 --limit 5\n"
            "  python scripts/inspect_db.py --dsn postgresql://postgres@127.0.0.1:5432/letta   # password: PGPASSWORD\n"
            "\n"
            "A --dsn never carries the password: libpq reads it from PGPASSWORD, or from ~/.pgpass (or the file\n"
            "PGPASSFILE names, mode 0600). Passwords are never printed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--env",
        type=env_argument,
        metavar="NAME",
        help="environment whose data stack letta-NAME-data to inspect through the Data API (default: dev)",
    )
    target.add_argument(
        "--dsn",
        type=dsn_argument,
        metavar="URI",
        help="query this PostgreSQL server through psycopg instead: a postgresql:// URI or key=value string "
        f"WITHOUT a password (refused: shell history keeps it; {PASSWORD_HINT})",
    )
    parser.add_argument(
        "--region",
        metavar="REGION",
        type=region,
        help="AWS region of the stack (default: AWS_DEFAULT_REGION, or region in your AWS profile)",
    )
    parser.add_argument(
        "--master",
        action="store_true",
        help="query through the Data API as the master user instead of Letta's app role. Letta's tables belong "
        "to the app role, and the master user (rds_superuser, not a real superuser) cannot read them unless "
        "granted: without a grant this ends in 'permission denied'",
    )
    parser.add_argument(
        "--agent", type=agent_id_argument, metavar="ID", help="also show this agent's most recent messages"
    )
    parser.add_argument(
        "--limit",
        type=whole_number(1, 1000),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"how many recent messages to show with --agent, 1-1000 (default: {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--width",
        type=whole_number(10, 100_000),
        default=DEFAULT_WIDTH,
        metavar="CHARS",
        help=f"cut each message's text to this many characters, ending in '{ELLIPSIS}', in the table and "
        f"in --json alike, 10-100000 (default: {DEFAULT_WIDTH})",
    )
    parser.add_argument(
        "--max-agents",
        type=whole_number(1, 10_000),
        default=DEFAULT_MAX_AGENTS,
        metavar="N",
        help=f"list at most this many agents, oldest first; the total is always shown (default: {DEFAULT_MAX_AGENTS})",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(3600),
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for the database: connect timeout with --dsn; with the Data API, how long to keep "
        f"retrying while a paused cluster resumes; more than 0, at most 3600 (default: {DEFAULT_TIMEOUT_S:.0f})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    return parser


def agent_id_argument(value: str) -> str:
    """argparse type: an agent id such as ``agent-29cdd087-44a7-4dd4-b34e-d38dd5ef2935``."""
    if not _AGENT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an agent id (letters, digits and . _ : -, like agent-29cdd087-44a7-...)"
        )
    return value


def main(argv: Sequence[str] | None = None, *, client_factory: ClientFactory = aws_client) -> int:
    """Run the command line; returns the exit code. ``client_factory(service, region, **kwargs)`` is for tests."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dsn and (args.region or args.master):
        parser.error("--region and --master apply to the Data API (--env), not to --dsn")
    try:
        report = inspect(args, client_factory)
    except OperatorError as exc:
        return fail(str(exc), exc.exit_code)
    print(render_json(report) if args.json else render_text(report))
    return EXIT_OK


def inspect(args: argparse.Namespace, client_factory: ClientFactory) -> Report:
    """Connect the way the arguments say and collect the report; raises ``OperatorError``."""
    options = {"agent_id": args.agent, "limit": args.limit, "width": args.width, "max_agents": args.max_agents}
    if args.dsn:
        with psycopg_executor(args.dsn, timeout=args.timeout) as executor:
            return _collect(executor, {"via": "psycopg", "dsn": describe_dsn(args.dsn)}, options)
    executor, source = data_api_executor(
        args.env or "dev",
        region=args.region,
        use_master=args.master,
        timeout=args.timeout,
        client_factory=client_factory,
    )
    return _collect(executor, source, options)


def _collect(executor: Executor, source: dict[str, str], options: dict[str, Any]) -> Report:
    try:
        return collect(executor, source=source, **options)
    except StatementError as exc:
        hint = ""
        if "permission denied" in str(exc):
            hint = " (Letta's tables belong to the app role: query as that role, i.e. without --master)"
        raise OperatorError(f"query failed: {one_line(str(exc))}{hint}", EXIT_QUERY) from None
    except BootstrapError as exc:  # the Data API's deadline passed while the cluster stayed unreachable
        raise OperatorError(f"database not reachable: {exc}", EXIT_CONNECTION) from None
    except BotoCoreError as exc:  # what the executor does not retry: no credentials, a bad endpoint, ...
        raise OperatorError(f"Data API call failed: {exc}", EXIT_CONNECTION) from None


def fail(message: str, exit_code: int) -> int:
    """Print ``message`` as one ``error:`` line on stderr and return ``exit_code``."""
    return shared_fail("inspect_db.py", OperatorError(message, exit_code))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Move or keep your agents: export every agent with its archival memory and full message history to
documented files, and import them into another environment (docs/agents.md; the files:
docs/agent-export-format.md).

    python scripts/agents.py list   --env dev
    python scripts/agents.py export --env dev --all --out backups/agents-dev
    python scripts/agents.py import --env prod --from backups/agents-dev

Exit 0 only when everything held; otherwise one line on stderr and the code that names the kind (--help).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

try:
    from botocore.exceptions import BotoCoreError

    from scripts.agent_export import layout, store, transfer
    from scripts.agent_export.letta_api import EXIT_API, LettaApi
    from scripts.inspect_db import ClientFactory, agent_id_argument, data_api_executor, psycopg_executor
    from scripts.local_stack import STATE_DIR, State, app_uri
    from scripts.operator_cli import EXIT_OK, EXIT_USAGE, OperatorError, Parser, fail, one_line, region, seconds
    from scripts.stack_outputs import (
        StackOutputsError,
        aws_client,
        env_argument,
        read_secret_json,
        require_outputs,
        stack_name,
        stack_outputs,
    )
    from stacks.pgsql.errors import BootstrapError, StatementError
except ModuleNotFoundError as missing:  # a fresh clone before setup: one line, not a traceback
    sys.exit(f"agents.py: missing Python package {missing.name!r}: run `bash scripts/setup.sh` first")

PROG = "agents.py"
EXIT_STACK = 3  # stack outputs, the server password or the rehearsal's state could not be read
EXIT_DATABASE = 9  # the database rejected a statement or could not be reached
DEFAULT_TIMEOUT_S = 600.0


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag explained in ``--help`` of each subcommand."""
    parser = Parser(
        prog=PROG,
        description=(
            "Export Letta agents (Letta's own .af, every archival passage with its embedding, the full message\n"
            "history) to a folder with a checksummed manifest, and import such a folder into another environment\n"
            "of this toolkit: the agent through Letta's import API, passages and messages into the database, with\n"
            "new ids and no re-embedding. The format: docs/agent-export-format.md."
        ),
        epilog=(
            "where (every subcommand takes one):\n"
            "  --env NAME      a deployed environment: API URL and password from the stacks letta-NAME-*, the\n"
            "                  database through the RDS Data API as Letta's app role\n"
            "  --rehearsal     the local rehearsal (scripts/local_stack.py): its state.json, psycopg\n"
            "\n"
            "exit codes:\n"
            f"  {EXIT_OK}  success\n"
            "  1  any other failure (an export folder that is not empty, ...)\n"
            f"  {EXIT_USAGE}  bad command line\n"
            f"  {EXIT_STACK}  stack outputs, the server password or the rehearsal's state could not be read\n"
            f"  {EXIT_API}  the Letta API or the database could not be reached, or the API refused a call\n"
            f"  {store.EXIT_NO_AGENT}  no such agent (in the environment, or in the export)\n"
            f"  {layout.EXIT_BAD_EXPORT}  the export is missing, corrupt, fails its checksums, or is a newer format\n"
            f"  {transfer.EXIT_EXISTS}  the agent was imported into this environment before (--existing refuse)\n"
            f"  {transfer.EXIT_CHECK}  after the import, the agent does not match the manifest\n"
            f"  {EXIT_DATABASE}  the database rejected a statement, or the Data API stayed unavailable"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = Parser(add_help=False)
    target = where.add_mutually_exclusive_group(required=True)
    target.add_argument("--env", type=env_argument, metavar="NAME", help="a deployed environment (stacks letta-NAME-*)")
    target.add_argument("--rehearsal", action="store_true", help="the local rehearsal (scripts/local_stack.py)")
    where.add_argument("--state-dir", type=Path, default=STATE_DIR, help=f"the rehearsal's state (default {STATE_DIR})")
    where.add_argument("--region", type=region, help="AWS region of the stacks (default: your AWS settings)")
    where.add_argument(
        "--timeout",
        type=seconds(3600),
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"one API call; the database's connect or resume wait (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    where.add_argument("--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", parents=[where], help="list the environment's agents (id and name)")
    export = commands.add_parser("export", parents=[where], help="write agents to a new folder")
    chosen = export.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--agent", type=agent_id_argument, action="append", metavar="ID", help="this agent (repeatable)"
    )
    chosen.add_argument("--all", action="store_true", help="every agent of the environment")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder")
    export.add_argument(
        "--include-secrets",
        action="store_true",
        help="also write each agent's tool environment values, IN CLEAR, to agents/<id>/secrets.json (mode 0600); "
        "without it they are not exported (Letta's .af carries their names with empty values)",
    )
    load = commands.add_parser("import", parents=[where], help="import an export folder")
    load.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR", help="the export folder")
    load.add_argument("--agent", type=agent_id_argument, action="append", metavar="ID", help="only this exported agent")
    load.add_argument(
        "--existing",
        choices=transfer.EXISTING_CHOICES,
        default="refuse",
        help="when this environment already holds an agent imported from the same source agent: refuse (default: "
        "exit 7, nothing written), skip it, or replace it (delete it and its archive, then import)",
    )
    load.add_argument(
        "--model",
        metavar="HANDLE",
        help="the agent's LLM handle in the target, e.g. openai/gpt-4o-mini (default: the exported llm_config)",
    )
    load.add_argument(
        "--embedding",
        metavar="HANDLE",
        help="the SAME embedding model as the target names it (its endpoint and key): passages are not re-embedded, "
        "so another model would make archival search meaningless (default: the exported embedding_config)",
    )
    load.add_argument("--id-map", type=Path, metavar="FILE", help="write old id -> new id (agent, passages, messages)")
    return parser


@contextmanager
def environment(args: argparse.Namespace, client_factory: ClientFactory) -> Iterator[transfer.Environment]:
    """The API and the database of ``--env`` or ``--rehearsal``."""
    if args.rehearsal:
        state_dir = args.state_dir.resolve()
        state = State.load(state_dir)
        if state is None:
            raise OperatorError(f"no rehearsal in {state_dir}: run `python scripts/local_stack.py up`", EXIT_STACK)
        api = LettaApi(state.base_url, state.server_password, timeout=args.timeout)
        with psycopg_executor(app_uri(state), timeout=args.timeout) as executor:
            yield transfer.Environment(api, executor, f"rehearsal {state_dir}")
        return
    try:
        cloudformation = client_factory("cloudformation", args.region)
        service, data = stack_name(args.env, "service"), stack_name(args.env, "data")
        (base_url,) = require_outputs(stack_outputs(cloudformation, service), service, "ApiUrl")
        (secret_arn,) = require_outputs(stack_outputs(cloudformation, data), data, "ServerPasswordSecretArn")
        (token,) = read_secret_json(client_factory("secretsmanager", args.region), secret_arn, "password")
    except (StackOutputsError, ValueError) as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None
    executor, _ = data_api_executor(
        args.env, region=args.region, use_master=False, timeout=args.timeout, client_factory=client_factory
    )
    yield transfer.Environment(LettaApi(base_url, token, timeout=args.timeout), executor, f"environment {args.env}")


def run(args: argparse.Namespace, client_factory: ClientFactory, say: Callable[[str], None]) -> None:
    if args.command == "import":  # a bad export is refused before any environment is touched
        transfer.verify_export(args.source.resolve())
    with environment(args, client_factory) as env:
        if args.command == "list":
            for agent_id, name in store.list_agents(env.executor):
                say(f"{agent_id}  {name}")
        elif args.command == "export":
            transfer.export_agents(
                env,
                args.out.resolve(),
                None if args.all else args.agent,
                include_secrets=args.include_secrets,
                quiet=args.quiet,
                say=say,
            )
        else:
            overrides = {k: v for k in ("model", "embedding") if (v := getattr(args, k))}
            transfer.import_agents(
                env,
                args.source.resolve(),
                args.agent,
                existing=args.existing,
                overrides=overrides,
                id_map=args.id_map,
                quiet=args.quiet,
                say=say,
            )


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory = aws_client,
    say: Callable[[str], None] = print,
) -> int:
    """Run the command line; returns the exit code. ``client_factory(service, region, **kwargs)`` is for tests."""
    args = build_parser().parse_args(argv)
    try:
        run(args, client_factory, say)
    except OperatorError as exc:
        return fail(f"{PROG} {args.command}", exc)
    except StatementError as exc:
        return fail(f"{PROG} {args.command}", OperatorError(f"database: {one_line(str(exc))}", EXIT_DATABASE))
    except (BootstrapError, BotoCoreError) as exc:
        return fail(f"{PROG} {args.command}", OperatorError(f"database not reachable: {exc}", EXIT_DATABASE))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

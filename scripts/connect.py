#!/usr/bin/env python3
"""Open ``psql`` on an environment's Aurora cluster with the credentials from Secrets Manager.

The password reaches psql only through the ``PGPASSWORD`` variable of psql's own environment: never on
its command line (``ps`` shows that to every user), never in a file, never in shell history. Run
``python scripts/connect.py --help`` for every flag and the exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

if __package__ in (None, ""):  # run as `python scripts/connect.py`: make the repo root importable
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

from botocore.exceptions import BotoCoreError, ClientError
from psycopg.conninfo import make_conninfo

from scripts.operator_cli import EXIT_OK, EXIT_USAGE, OperatorError, Parser, fail, port, region
from scripts.stack_outputs import (
    StackOutputsError,
    aws_client,
    env_argument,
    require_outputs,
    stack_name,
    stack_outputs,
)
from stacks.pgvector.runtime.pgvector_bootstrap.connection_string import redact

EXIT_STACK = 3  # the stack or one of its outputs is missing, or AWS refused to describe it
EXIT_SECRET = 4  # the secret could not be read, or lacks username/password
EXIT_NO_PSQL = 5  # no psql executable

# Characters left as they are in the printed URI: the generated passwords' own alphabet (letters, digits
# and -_.^,) needs no encoding, so the URI matches LETTA_PG_URI; anything else is percent-encoded, which
# libpq decodes.
_URI_SAFE = "-_.^,~"

ClientFactory = Callable[..., Any]
ExecFunction = Callable[[str, list[str], Mapping[str, str]], Any]


@dataclass(frozen=True)
class Target:
    """Where and as whom to connect. ``password`` never leaves this object except into PGPASSWORD."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)  # kept out of any repr, traceback or log line

    def conninfo(self) -> str:
        """psql's connection string, without the password; TLS required (the cluster enforces it too)."""
        return make_conninfo(
            host=self.host, port=str(self.port), dbname=self.database, user=self.user, sslmode="require"
        )

    def uri(self, *, show_password: bool) -> str:
        """``postgresql://user:password@host:port/db?sslmode=require``, the password as ``****`` unless shown."""
        uri = (
            f"postgresql://{quote(self.user, safe=_URI_SAFE)}:{quote(self.password, safe=_URI_SAFE)}"
            f"@{self.host}:{self.port}/{quote(self.database, safe=_URI_SAFE)}?sslmode=require"
        )
        return uri if show_password else redact(uri)


def resolve_target(
    env: str, *, region: str | None, use_app: bool, host: str | None, port: int | None, client_factory: ClientFactory
) -> Target:
    """Read the data stack's outputs and the chosen secret; raises ``OperatorError``."""
    name = stack_name(env, "data")
    secret_key = "AppSecretArn" if use_app else "MasterSecretArn"
    try:
        outputs = stack_outputs(client_factory("cloudformation", region), name)
        endpoint, default_port, database, secret_arn = require_outputs(
            outputs, name, "WriterEndpoint", "Port", "DatabaseName", secret_key
        )
        secrets = client_factory("secretsmanager", region)
    except StackOutputsError as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None
    user, password = read_credentials(secrets, secret_arn)
    return Target(
        host=host or endpoint,
        port=port or int(default_port),
        database=database,
        user=user,
        password=password,
    )


def read_credentials(secrets_client: Any, secret_arn: str) -> tuple[str, str]:
    """``(username, password)`` from a Secrets Manager secret in RDS's JSON shape; raises ``OperatorError``.

    Messages name the secret and the missing key, never a value.
    """
    try:
        response = secrets_client.get_secret_value(SecretId=secret_arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise OperatorError(
            f"cannot read secret {secret_arn}: {error.get('Code', 'Unknown')}: {error.get('Message', '')}",
            EXIT_SECRET,
        ) from None
    except BotoCoreError as exc:
        raise OperatorError(f"cannot read secret {secret_arn}: {exc}", EXIT_SECRET) from None
    try:
        values = json.loads(response.get("SecretString") or "")
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise OperatorError(f"secret {secret_arn} is not a JSON object with username and password", EXIT_SECRET)
    missing = [key for key in ("username", "password") if not isinstance(values.get(key), str) or not values[key]]
    if missing:
        raise OperatorError(f"secret {secret_arn} has no {' and no '.join(missing)}", EXIT_SECRET)
    return values["username"], values["password"]


def psql_command(psql: str, target: Target, extra: Sequence[str]) -> tuple[str, list[str], dict[str, str]]:
    """``(executable, argv, env)`` for exec: argv holds no password, env adds PGPASSWORD to ours."""
    executable = shutil.which(psql)
    if executable is None:
        raise OperatorError(
            f"{psql!r} not found: install the PostgreSQL client (e.g. apt-get install postgresql-client) "
            "or pass --psql PATH",
            EXIT_NO_PSQL,
        )
    env = {**os.environ, "PGPASSWORD": target.password}
    return executable, [executable, target.conninfo(), *extra], env


def build_parser() -> argparse.ArgumentParser:
    """The command line, with every flag explained in ``--help``."""
    parser = Parser(
        prog="connect.py",
        description=(
            "Start psql on the Aurora cluster of an environment, as the master user (default) or as\n"
            "Letta's app role (--app), with the credentials the data stack keeps in Secrets Manager.\n"
            "\n"
            "The writer is in isolated subnets and not publicly accessible: this works from a machine\n"
            "with a network path into the VPC (VPN, Direct Connect, peering, or a port forward with\n"
            "--host/--port) whose source address is in the config key db_allowed_cidrs. Without one,\n"
            "use scripts/inspect_db.py, which goes through the RDS Data API.\n"
            "\n"
            "The password is handed to psql in its PGPASSWORD environment variable only: not on the\n"
            "command line, not in a file, not in shell history. TLS is required (sslmode=require)."
        ),
        epilog=(
            "exit codes (psql's own once it runs):\n"
            f"  {EXIT_OK}  success (--print)\n"
            f"  {EXIT_USAGE}  bad command line\n"
            f"  {EXIT_STACK}  stack letta-<env>-data or one of its outputs not found, or AWS refused to describe it\n"
            f"  {EXIT_SECRET}  the secret could not be read or has no username/password\n"
            f"  {EXIT_NO_PSQL}  psql not found\n"
            "\n"
            "examples:\n"
            "  python scripts/connect.py                          # dev, master user\n"
            "  python scripts/connect.py --env prod --app         # as Letta's app role, which owns Letta's tables\n"
            "  python scripts/connect.py --app -- -c 'SELECT id, name, created_at FROM agents'\n"
            "  python scripts/connect.py --print                  # the URI with the password as ****\n"
            "  python scripts/connect.py --host 127.0.0.1 --port 15432   # through a local port forward"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env",
        type=env_argument,
        default="dev",
        metavar="NAME",
        help="environment (stack letta-NAME-data; default: dev)",
    )
    parser.add_argument(
        "--region",
        metavar="REGION",
        type=region,
        help="AWS region of the stack (default: AWS_DEFAULT_REGION, or region in your AWS profile)",
    )
    parser.add_argument(
        "--app",
        action="store_true",
        help="connect as Letta's app role (AppSecretArn) instead of the master user (MasterSecretArn). Letta's "
        "tables belong to the app role; the master user cannot read them unless granted",
    )
    parser.add_argument(
        "--host", metavar="HOST", help="connect here instead of the WriterEndpoint output (e.g. a port forward)"
    )
    parser.add_argument("--port", type=port, metavar="PORT", help="port instead of the Port output")
    parser.add_argument(
        "--print",
        dest="print_uri",
        action="store_true",
        help="print the connection URI (postgresql://user:****@host:port/db?sslmode=require) instead of starting psql",
    )
    parser.add_argument(
        "--show-password",
        action="store_true",
        help="with --print, put the real password in the URI (it then lands in your terminal's scrollback)",
    )
    parser.add_argument("--psql", default="psql", metavar="PATH", help="the psql executable (default: psql on PATH)")
    parser.add_argument(
        "psql_args",
        nargs=argparse.REMAINDER,
        metavar="-- PSQL_ARGS",
        help="anything after -- goes to psql as it is (e.g. -- -c 'SELECT 1')",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory = aws_client,
    exec_function: ExecFunction = os.execvpe,
) -> int:
    """Run the command line; returns the exit code (with the default ``exec_function`` psql replaces us).

    ``client_factory(service, region)`` and ``exec_function(file, argv, env)`` are for tests.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.psql_args and args.psql_args[0] != "--":
        parser.error(f"unrecognized argument {args.psql_args[0]!r}: arguments for psql go after --")
    extra = list(args.psql_args[1:])
    if args.show_password and not args.print_uri:
        parser.error("--show-password only goes with --print")
    if args.print_uri and extra:
        parser.error("psql arguments after -- make no sense with --print")
    try:
        target = resolve_target(
            args.env,
            region=args.region,
            use_app=args.app,
            host=args.host,
            port=args.port,
            client_factory=client_factory,
        )
        if args.print_uri:
            if args.show_password:
                print("connect.py: warning: the next line holds the password", file=sys.stderr)
            print(target.uri(show_password=args.show_password))
            return EXIT_OK
        executable, psql_argv, env = psql_command(args.psql, target, extra)
    except OperatorError as exc:
        return fail("connect.py", exc)
    print(f"connect.py: {target.uri(show_password=False)}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()  # exec replaces the process: unflushed output would be lost
    exec_function(executable, psql_argv, env)
    return EXIT_OK  # reached only when exec_function returns (tests)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Open ``psql`` on an environment's Aurora cluster with the credentials from Secrets Manager.

The writer sits in isolated subnets. ``--tunnel`` reaches it from anywhere: an SSM port-forwarding session
(``AWS-StartPortForwardingSessionToRemoteHost``) through a running Letta task with ECS Exec, whose security
group the database admits, then psql on the local end. Without it psql connects directly, which needs a
network path into the VPC.

The password reaches psql only through the ``PGPASSWORD`` variable of psql's own environment: never on
its command line (``ps`` shows that to every user), never in a file, never in shell history. Run
``python scripts/connect.py --help`` for every flag and the exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from psycopg.conninfo import make_conninfo

from scripts.operator_cli import EXIT_OK, EXIT_USAGE, OperatorError, Parser, fail, port, region
from scripts.stack_outputs import (
    StackOutputsError,
    aws_client,
    env_argument,
    read_secret_json,
    require_outputs,
    stack_name,
    stack_outputs,
)
from stacks.pgsql.connection_string import redact

EXIT_STACK = 3  # the stack or one of its outputs is missing, or AWS refused to describe it
EXIT_SECRET = 4  # the secret could not be read, or lacks username/password
EXIT_NO_PSQL = 5  # no psql executable
EXIT_TUNNEL = 6  # --tunnel: no Session Manager plugin, ECS Exec off, no task to go through, or SSM refused

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
        username, password = read_secret_json(secrets_client, secret_arn, "username", "password")
    except StackOutputsError as exc:
        raise OperatorError(str(exc), EXIT_SECRET) from None
    return username, password


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


# -- --tunnel: an SSM port forward through a running Letta task ---------------------------------------

PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
LETTA_CONTAINER = "Letta"  # the container name in the task definition (stacks/service/letta_service.py)
PLUGIN_INSTALL_URL = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"
)
# Newer plugins read the StartSession response (which holds the session token) from this variable instead of
# their command line, where `ps` would show it; the AWS CLI uses the variable for plugins after 1.2.497.0.
PLUGIN_RESPONSE_ENV = "AWS_SSM_START_SESSION_RESPONSE"
LAST_PLUGIN_WITHOUT_ENV = (1, 2, 497, 0)
TUNNEL_OPEN_TIMEOUT = 30.0


@dataclass(frozen=True)
class ExecTask:
    """A running Letta container that ECS Exec can reach."""

    cluster: str
    service: str
    task_id: str
    runtime_id: str

    @property
    def ssm_target(self) -> str:
        """Session Manager's name for the container: ``ecs:<cluster>_<task id>_<container runtime id>``."""
        return f"ecs:{self.cluster}_{self.task_id}_{self.runtime_id}"


def find_plugin(plugin: str) -> str:
    """The Session Manager plugin's path; raises ``OperatorError`` saying how to install it."""
    executable = shutil.which(plugin)
    if executable is None:
        raise OperatorError(
            f"{plugin!r} not found: --tunnel needs the Session Manager plugin for the AWS CLI "
            f"({PLUGIN_INSTALL_URL}), or pass --session-manager-plugin PATH",
            EXIT_TUNNEL,
        )
    return executable


def _aws_error(action: str, exc: Exception) -> OperatorError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return OperatorError(f"{action}: {error.get('Code', 'Unknown')}: {error.get('Message', '')}", EXIT_TUNNEL)
    return OperatorError(f"{action}: {exc}", EXIT_TUNNEL)


def find_exec_task(env: str, *, region: str | None, client_factory: ClientFactory) -> ExecTask:
    """A running task of the environment's Letta service with ECS Exec ready; raises ``OperatorError`` naming
    what is missing (ECS Exec off, no running task, tasks started before it was on, agent not running)."""
    name = stack_name(env, "service")
    try:
        cluster, service = require_outputs(
            stack_outputs(client_factory("cloudformation", region), name), name, "ClusterName", "ServiceName"
        )
        ecs = client_factory("ecs", region)
    except StackOutputsError as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None
    redeploy = f"aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment"
    try:
        services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not services:
            raise OperatorError(f"service {service} not found in cluster {cluster}", EXIT_TUNNEL)
        if not services[0].get("enableExecuteCommand"):
            raise OperatorError(
                f"ECS Exec is off for service {service}: set enable_ecs_exec to true (cdk.json context or "
                "-c enable_ecs_exec=true) and deploy the service stack; the tasks that deployment starts have it",
                EXIT_TUNNEL,
            )
        arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING").get("taskArns", [])
        if not arns:
            raise OperatorError(f"no running task in service {service} to tunnel through", EXIT_TUNNEL)
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns).get("tasks", [])
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"cannot look up the tasks of service {service}", exc) from None
    problems = []
    for task in tasks:
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        container = next((c for c in task.get("containers", []) if c.get("name") == LETTA_CONTAINER), None)
        agent = next(
            (a for a in (container or {}).get("managedAgents", []) if a.get("name") == "ExecuteCommandAgent"), {}
        )
        if task.get("lastStatus") != "RUNNING" or container is None or not container.get("runtimeId"):
            problems.append(f"task {task_id} is {task.get('lastStatus', 'in an unknown state')}")
        elif not task.get("enableExecuteCommand"):
            problems.append(f"task {task_id} started before ECS Exec was on: replace it with `{redeploy}`")
        elif agent.get("lastStatus") != "RUNNING":
            problems.append(
                f"the ECS Exec agent of task {task_id} is {agent.get('lastStatus', 'absent')} (it needs outbound "
                "HTTPS to ssmmessages and the task role's ssmmessages permissions, which enable_ecs_exec grants)"
            )
        else:
            return ExecTask(cluster=cluster, service=service, task_id=task_id, runtime_id=container["runtimeId"])
    raise OperatorError(f"no task of service {service} accepts ECS Exec: {'; '.join(problems)}", EXIT_TUNNEL)


def free_local_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _plugin_takes_env(plugin: str) -> bool:
    """True if the plugin reads the session response from PLUGIN_RESPONSE_ENV (newer than 1.2.497.0)."""
    try:
        version = subprocess.run([plugin, "--version"], capture_output=True, text=True, timeout=30, check=False)
        parts = tuple(int(part) for part in version.stdout.strip().split("."))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return False
    return parts > LAST_PLUGIN_WITHOUT_ENV


class Tunnel:
    """An SSM port-forwarding session from 127.0.0.1:``local_port`` to ``host``:``port`` through ``task``,
    run by the Session Manager plugin the way `aws ssm start-session` runs it. A context manager: on exit the
    plugin stops and the session is terminated, so nothing stays open on the agent's side."""

    def __init__(self, ssm: Any, plugin: str, task: ExecTask, *, host: str, port: int, local_port: int) -> None:
        self.ssm = ssm
        self.plugin = plugin
        self.local_port = local_port
        self.parameters = {
            "Target": task.ssm_target,
            "DocumentName": PORT_FORWARD_DOCUMENT,
            "Parameters": {"host": [host], "portNumber": [str(port)], "localPortNumber": [str(local_port)]},
        }
        self.session_id: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tunnel:
        try:
            response = self.ssm.start_session(**self.parameters)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"SSM refused a port-forwarding session to {self.parameters['Target']}", exc) from None
        self.session_id = response["SessionId"]
        session = json.dumps({key: response[key] for key in ("SessionId", "TokenValue", "StreamUrl")})
        env = dict(os.environ)
        if _plugin_takes_env(self.plugin):
            env[PLUGIN_RESPONSE_ENV] = session
            session = PLUGIN_RESPONSE_ENV
        argv = [
            self.plugin,
            session,
            self.ssm.meta.region_name,
            "StartSession",
            os.environ.get("AWS_PROFILE", ""),
            json.dumps(self.parameters),
            self.ssm.meta.endpoint_url,
        ]
        try:
            # Its own session: Ctrl-C in psql must not reach the plugin; its chatter goes to stderr, not psql's stdout.
            self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=2, start_new_session=True)
            self._wait_until_open()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_open(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + TUNNEL_OPEN_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OperatorError(
                    f"session-manager-plugin exited with code {self.process.returncode} before the tunnel opened",
                    EXIT_TUNNEL,
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.local_port), timeout=1):
                return
            time.sleep(0.2)
        raise OperatorError(
            f"the tunnel's local port {self.local_port} did not open within {TUNNEL_OPEN_TIMEOUT:.0f} s", EXIT_TUNNEL
        )

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.session_id is not None:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.ssm.terminate_session(SessionId=self.session_id)


def run_through_tunnel(
    args: argparse.Namespace, target: Target, extra: list[str], *, client_factory: ClientFactory
) -> int:
    """--tunnel: psql (or, with --print, nothing but the open tunnel until Ctrl-C) through a Letta task."""
    plugin = find_plugin(args.session_manager_plugin)
    local = Target(
        host="127.0.0.1",
        port=args.local_port or free_local_port(),
        database=target.database,
        user=target.user,
        password=target.password,
    )
    # Everything local is checked before anything opens on AWS's side.
    psql = None if args.print_uri else psql_command(args.psql, local, extra)
    task = find_exec_task(args.env, region=args.region, client_factory=client_factory)
    try:
        ssm = client_factory("ssm", args.region)
    except StackOutputsError as exc:
        raise OperatorError(str(exc), EXIT_STACK) from None
    print(f"connect.py: tunnel to {target.host}:{target.port} through task {task.task_id}", file=sys.stderr)
    # Ctrl-C belongs to psql (it cancels a query) or, with --print, closes the tunnel: not a traceback here.
    # A no-op handler, not SIG_IGN: an ignored signal stays ignored across exec, and psql must still get it.
    previous = signal.signal(
        signal.SIGINT, signal.default_int_handler if args.print_uri else lambda _signum, _frame: None
    )
    try:
        with Tunnel(ssm, plugin, task, host=target.host, port=target.port, local_port=local.port) as tunnel:
            if args.print_uri:
                if args.show_password:
                    print("connect.py: warning: the next line holds the password", file=sys.stderr)
                print(local.uri(show_password=args.show_password), flush=True)
                print("connect.py: tunnel open; Ctrl-C closes it", file=sys.stderr, flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    assert tunnel.process is not None
                    tunnel.process.wait()
                return EXIT_OK
            assert psql is not None
            executable, psql_argv, env = psql
            print(f"connect.py: {local.uri(show_password=False)}", file=sys.stderr, flush=True)
            return subprocess.call(psql_argv, env=env, executable=executable)
    except KeyboardInterrupt:  # Ctrl-C while the tunnel was still opening: it is closed again
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)


def build_parser() -> argparse.ArgumentParser:
    """The command line, with every flag explained in ``--help``."""
    parser = Parser(
        prog="connect.py",
        description=(
            "Start psql on the Aurora cluster of an environment, as the master user (default) or as\n"
            "Letta's app role (--app), with the credentials the data stack keeps in Secrets Manager.\n"
            "\n"
            "The writer is in isolated subnets and not publicly accessible. --tunnel reaches it from\n"
            "anywhere: an SSM port-forwarding session through a running Letta task (needs ECS Exec, config\n"
            "key enable_ecs_exec=true, and the Session Manager plugin), psql on the local end. Without\n"
            "--tunnel this works from a machine with a network path into the VPC (VPN, Direct Connect,\n"
            "peering, or a port forward with --host/--port) whose private source address is in the config\n"
            "key db_allowed_cidrs. scripts/inspect_db.py needs neither: it goes through the RDS Data API.\n"
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
            f"  {EXIT_TUNNEL}  --tunnel: no Session Manager plugin, ECS Exec off, no task to go through,\n"
            "     or SSM refused the session\n"
            "\n"
            "examples:\n"
            "  python scripts/connect.py                          # dev, master user\n"
            "  python scripts/connect.py --env prod --app         # as Letta's app role, which owns Letta's tables\n"
            "  python scripts/connect.py --app -- -c 'SELECT id, name, created_at FROM agents'\n"
            "  python scripts/connect.py --print                  # the URI with the password as ****\n"
            "  python scripts/connect.py --tunnel                 # from anywhere, through a Letta task (ECS Exec)\n"
            "  python scripts/connect.py --tunnel --print --local-port 15432   # hold a tunnel open for other tools\n"
            "  python scripts/connect.py --host 127.0.0.1 --port 15432   # through a port forward of your own"
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
    parser.add_argument(
        "--tunnel",
        action="store_true",
        help="go through a running Letta task: an SSM port-forwarding session (ECS Exec, document "
        f"{PORT_FORWARD_DOCUMENT}) from 127.0.0.1 to the writer; with --print, hold it open until Ctrl-C",
    )
    parser.add_argument(
        "--local-port", type=port, metavar="PORT", help="with --tunnel: the local port (default: a free one)"
    )
    parser.add_argument(
        "--session-manager-plugin",
        default="session-manager-plugin",
        metavar="PATH",
        help="with --tunnel: the Session Manager plugin (default: session-manager-plugin on PATH)",
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
    if args.local_port and not args.tunnel:
        parser.error("--local-port only goes with --tunnel")
    try:
        if args.tunnel:
            find_plugin(args.session_manager_plugin)  # before any AWS call: the one thing missing locally
        target = resolve_target(
            args.env,
            region=args.region,
            use_app=args.app,
            host=args.host,
            port=args.port,
            client_factory=client_factory,
        )
        if args.tunnel:
            return run_through_tunnel(args, target, extra, client_factory=client_factory)
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

"""scripts/connect.py with CloudFormation and Secrets Manager under botocore's Stubber (no AWS account), and an
injected exec function in place of really replacing the test process with psql.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scripts import connect
from scripts.embedded_postgres import EmbeddedPostgres
from tests.postgres_server import ROOT

STACK = "letta-dev-data"
ENDPOINT = "letta-dev.cluster-abc123def456.eu-west-1.rds.amazonaws.com"
MASTER_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:letta-dev-master-AbCdEf"
APP_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:letta-dev-app-GhIjKl"
OUTPUTS = {
    "ClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:letta-dev",
    "WriterEndpoint": ENDPOINT,
    "Port": "5432",
    "DatabaseName": "letta",
    "MasterSecretArn": MASTER_SECRET_ARN,
    "AppSecretArn": APP_SECRET_ARN,
}
MASTER_PASSWORD = "Zx9-q_W.e^r,T5yU8iO0pA1sD2fG3hJ4"  # the generated alphabet, punctuation included


class FakeAws:
    """A ``client_factory`` handing out real boto3 clients under Stubber."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.clients = {
            service: boto3.client(
                service, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            for service in ("cloudformation", "secretsmanager", "ecs", "ssm")
        }
        self.stubbers = {service: Stubber(client) for service, client in self.clients.items()}

    def __call__(self, service: str, region: str | None = None, **_: Any) -> Any:
        self.calls.append((service, region))
        return self.clients[service]

    def stack(self, name: str = STACK, outputs: Mapping[str, str] = OUTPUTS) -> None:
        self.stubbers["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": name,
                        "CreationTime": "2025-10-27T06:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
            {"StackName": name},
        )

    def secret(self, arn: str, value: Mapping[str, Any] | str) -> None:
        self.stubbers["secretsmanager"].add_response(
            "get_secret_value",
            {"ARN": arn, "Name": "n", "SecretString": value if isinstance(value, str) else json.dumps(value)},
            {"SecretId": arn},
        )


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeAws()
    for stubber in fake.stubbers.values():
        stubber.activate()
    yield fake
    for stubber in fake.stubbers.values():
        stubber.deactivate()


@pytest.fixture(name="fake_psql")
def fake_psql_fixture(tmp_path: Path) -> str:
    """An executable named psql that is never run (the exec function is replaced)."""
    path = tmp_path / "psql"
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(0o755)
    return str(path)


class ExecRecorder:
    """Stands in for ``os.execvpe``: records what would have been exec'd."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], dict[str, str]]] = []

    def __call__(self, file: str, argv: list[str], env: Mapping[str, str]) -> None:
        self.calls.append((file, list(argv), dict(env)))


def master_secret() -> dict[str, Any]:
    """What RDS generates for the master user."""
    return {
        "username": "postgres",
        "password": MASTER_PASSWORD,
        "engine": "postgres",
        "host": ENDPOINT,
        "port": 5432,
        "dbname": "letta",
        "dbClusterIdentifier": "letta-dev",
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code (argparse's SystemExit included), stdout and stderr."""
    try:
        code = connect.main(list(argv), **kwargs)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_psql_gets_the_password_only_in_its_environment_stubbed(
    aws: FakeAws, fake_psql: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    recorder = ExecRecorder()
    code, out, err = run(capsys, "--psql", fake_psql, client_factory=aws, exec_function=recorder)
    assert code == 0
    [(file, argv, env)] = recorder.calls
    assert file == fake_psql
    assert argv == [fake_psql, f"host={ENDPOINT} port=5432 dbname=letta user=postgres sslmode=require"]
    assert not any(MASTER_PASSWORD in arg for arg in argv)
    assert env["PGPASSWORD"] == MASTER_PASSWORD
    assert env["PATH"] == os.environ["PATH"]  # the rest of our environment is passed on
    assert "PGPASSWORD" not in os.environ  # only the child's environment holds it
    assert MASTER_PASSWORD not in out + err
    assert err == f"connect.py: postgresql://postgres:****@{ENDPOINT}:5432/letta?sslmode=require\n"
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()


def test_app_role_host_port_and_psql_arguments_stubbed(
    aws: FakeAws, fake_psql: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack("letta-prod-data")
    aws.secret(APP_SECRET_ARN, {"username": "letta_app", "password": "app-pass.word"})
    recorder = ExecRecorder()
    code, _, _ = run(
        capsys,
        *("--env", "prod", "--region", "eu-west-1", "--app", "--host", "127.0.0.1", "--port", "15432"),
        *("--psql", fake_psql, "--", "-c", "SELECT count(*) FROM agents"),
        client_factory=aws,
        exec_function=recorder,
    )
    assert code == 0
    [(_, argv, env)] = recorder.calls
    assert argv[1:] == [
        "host=127.0.0.1 port=15432 dbname=letta user=letta_app sslmode=require",
        "-c",
        "SELECT count(*) FROM agents",
    ]
    assert env["PGPASSWORD"] == "app-pass.word"
    assert aws.calls == [("cloudformation", "eu-west-1"), ("secretsmanager", "eu-west-1")]


def test_print_redacts_the_password_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    recorder = ExecRecorder()
    code, out, err = run(capsys, "--print", client_factory=aws, exec_function=recorder)
    assert (code, err, recorder.calls) == (0, "", [])
    assert out == f"postgresql://postgres:****@{ENDPOINT}:5432/letta?sslmode=require\n"


def test_print_show_password_prints_it_and_warns_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    code, out, err = run(capsys, "--print", "--show-password", client_factory=aws)
    assert code == 0
    # The generated alphabet needs no encoding: the URI is the one Letta's LETTA_PG_URI would hold.
    assert out == f"postgresql://postgres:{MASTER_PASSWORD}@{ENDPOINT}:5432/letta?sslmode=require\n"
    assert err == "connect.py: warning: the next line holds the password\n"


def test_a_password_outside_the_generated_alphabet_is_percent_encoded_stubbed(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, {"username": "postgres", "password": "p@ss/w%rd"})
    code, out, _ = run(capsys, "--print", "--show-password", client_factory=aws)
    assert code == 0
    assert out == f"postgresql://postgres:p%40ss%2Fw%25rd@{ENDPOINT}:5432/letta?sslmode=require\n"


def test_unknown_stack_exits_3_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stubbers["cloudformation"].add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id letta-nope-data does not exist",
        http_status_code=400,
        expected_params={"StackName": "letta-nope-data"},
    )
    code, out, err = run(capsys, "--env", "nope", client_factory=aws, exec_function=ExecRecorder())
    assert (code, out) == (connect.EXIT_STACK, "")
    assert err.startswith("connect.py: error: stack letta-nope-data not found in eu-west-1")


def test_unreadable_secret_exits_4_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    aws.stubbers["secretsmanager"].add_client_error(
        "get_secret_value",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform secretsmanager:GetSecretValue",
        http_status_code=400,
        expected_params={"SecretId": MASTER_SECRET_ARN},
    )
    code, _, err = run(capsys, client_factory=aws, exec_function=ExecRecorder())
    assert code == connect.EXIT_SECRET
    assert err == (
        f"connect.py: error: cannot read secret {MASTER_SECRET_ARN}: AccessDeniedException: "
        "User is not authorized to perform secretsmanager:GetSecretValue\n"
    )


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"username": "postgres"}, "has no password"),
        ({"password": MASTER_PASSWORD}, "has no username"),
        ("not json " + MASTER_PASSWORD, "is not a JSON object with username and password"),
    ],
)
def test_malformed_secret_exits_4_without_its_value_stubbed(
    aws: FakeAws, secret: Any, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, secret)
    code, _, err = run(capsys, client_factory=aws, exec_function=ExecRecorder())
    assert code == connect.EXIT_SECRET
    assert message in err
    assert MASTER_PASSWORD not in err


def test_missing_psql_exits_5_stubbed(aws: FakeAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    recorder = ExecRecorder()
    code, _, err = run(capsys, "--psql", str(tmp_path / "no-psql"), client_factory=aws, exec_function=recorder)
    assert (code, recorder.calls) == (connect.EXIT_NO_PSQL, [])
    assert "not found: install the PostgreSQL client" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--show-password"], "--show-password only goes with --print"),
        (["--print", "--", "-c", "SELECT 1"], "psql arguments after -- make no sense with --print"),
        (["-c", "SELECT 1"], "unrecognized arguments: -c"),
        (["mydb"], "unrecognized argument 'mydb': arguments for psql go after --"),
        (["--env"], "argument --env: expected one argument"),
        (["--env", "Prod"], "argument --env: config 'env' = 'Prod' is not allowed"),
        (["--port", "70000"], "argument --port: '70000' is not a port number from 1 to 65535"),
    ],
)
def test_argument_errors_are_clear(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert f"connect.py: error: {message}" in err


def test_help_covers_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for flag in ("--env", "--region", "--app", "--host", "--port", "--print", "--show-password", "--psql", "--"):
        assert flag in out
    for flag in ("--tunnel", "--local-port", "--session-manager-plugin", "enable_ecs_exec"):
        assert flag in out
    assert "PGPASSWORD" in out
    assert "db_allowed_cidrs" in out


@pytest.mark.cli
def test_runs_as_a_script_from_any_directory(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "connect.py"), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: connect.py" in result.stdout


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_real_psql_insists_on_tls_stubbed(
    aws: FakeAws, embedded_postgres: EmbeddedPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real psql with the argv and env connect.py builds: it refuses the embedded server, which has no TLS.

    That proves psql reads the connection string as meant (sslmode=require reached it), without a password
    on its command line.
    """
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, {"username": "postgres", "password": embedded_postgres.superuser_password})
    results: list[subprocess.CompletedProcess[str]] = []

    def run_psql(file: str, argv: list[str], env: Mapping[str, str]) -> None:
        results.append(subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=30, check=False))

    code, _, _ = run(
        capsys,
        *("--host", "127.0.0.1", "--port", str(embedded_postgres.port), "--", "-tAc", "SELECT 1"),
        client_factory=aws,
        exec_function=run_psql,
    )
    assert code == 0
    [result] = results
    assert result.returncode != 0
    assert "server does not support SSL, but SSL was required" in result.stderr


# -- --tunnel: an SSM port forward through a running Letta task (ECS Exec) --------------------------------

CLUSTER = "letta-dev-ClusterEB0386A7-AbCdEf"
SERVICE = "letta-dev-service-LettaService-GhIjKl"
TASK_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = f"arn:aws:ecs:eu-west-1:123456789012:task/{CLUSTER}/{TASK_ID}"
RUNTIME_ID = f"{TASK_ID}-1234567890"
SESSION = {"SessionId": "operator-0a1b2c3d4e5f", "TokenValue": "session-token-AbCdEf", "StreamUrl": "wss://x"}

# Stands in for the Session Manager plugin: records how it was called, listens on the local port the way
# the real one does, and stops on SIGTERM (or exits at once with FAKE_PLUGIN_FAIL, or after FAKE_PLUGIN_LIFE).
FAKE_PLUGIN = """\
import json, os, signal, socket, sys, threading
if sys.argv[1:] == ["--version"]:
    print(os.environ.get("FAKE_PLUGIN_VERSION", "1.2.707.0"))
    sys.exit(0)
record = {"argv": sys.argv, "env": os.environ.get("AWS_SSM_START_SESSION_RESPONSE")}
with open(os.environ["FAKE_PLUGIN_RECORD"], "w") as out:
    json.dump(record, out)
if os.environ.get("FAKE_PLUGIN_FAIL"):
    sys.exit(255)
port = int(json.loads(sys.argv[5])["Parameters"]["localPortNumber"][0])
server = socket.create_server(("127.0.0.1", port))
def terminated(*_):
    with open(os.environ["FAKE_PLUGIN_RECORD"] + ".terminated", "w"):
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, terminated)
if os.environ.get("FAKE_PLUGIN_LIFE"):
    threading.Timer(float(os.environ["FAKE_PLUGIN_LIFE"]), lambda: os._exit(0)).start()
print("Waiting for connections...", flush=True)
while True:
    server.accept()[0].close()
"""

# Stands in for psql: records its argv, PGPASSWORD and whether the tunnel's local port answers; exits 7.
FAKE_PSQL = """\
import json, os, socket, sys
conninfo = dict(pair.split("=", 1) for pair in sys.argv[1].split())
try:
    socket.create_connection((conninfo["host"], int(conninfo["port"])), timeout=5).close()
    port_open = True
except OSError:
    port_open = False
with open(os.environ["FAKE_PSQL_RECORD"], "w") as out:
    json.dump({"argv": sys.argv, "password": os.environ.get("PGPASSWORD"), "port_open": port_open}, out)
sys.exit(7)
"""


def python_script(path: Path, source: str) -> str:
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)
    return str(path)


@pytest.fixture(name="tunnel_tools")
def tunnel_tools_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fake plugin and psql (real processes), with the files they record into."""
    records = {"plugin_record": tmp_path / "plugin.json", "psql_record": tmp_path / "psql.json"}
    monkeypatch.setenv("FAKE_PLUGIN_RECORD", str(records["plugin_record"]))
    monkeypatch.setenv("FAKE_PSQL_RECORD", str(records["psql_record"]))
    for name in ("FAKE_PLUGIN_FAIL", "FAKE_PLUGIN_LIFE", "FAKE_PLUGIN_VERSION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return {
        "plugin": Path(python_script(tmp_path / "session-manager-plugin", FAKE_PLUGIN)),
        "psql": Path(python_script(tmp_path / "psql", FAKE_PSQL)),
        **records,
    }


def tunnel_argv(tools: Mapping[str, Path], *extra: str) -> list[str]:
    return ["--tunnel", "--session-manager-plugin", str(tools["plugin"]), "--psql", str(tools["psql"]), *extra]


def service_stack(aws: FakeAws) -> None:
    aws.stack("letta-dev-service", {"ClusterName": CLUSTER, "ServiceName": SERVICE, "ApiUrl": "http://x"})


def ecs_service(aws: FakeAws, *, exec_enabled: bool = True) -> None:
    aws.stubbers["ecs"].add_response(
        "describe_services",
        {"services": [{"serviceName": SERVICE, "enableExecuteCommand": exec_enabled}]},
        {"cluster": CLUSTER, "services": [SERVICE]},
    )


def ecs_tasks(aws: FakeAws, *, task_exec: bool = True, agent: str = "RUNNING", arns: list[str] | None = None) -> None:
    arns = [TASK_ARN] if arns is None else arns
    aws.stubbers["ecs"].add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "RUNNING"},
    )
    if not arns:
        return
    container = {
        "name": "Letta",
        "runtimeId": RUNTIME_ID,
        "lastStatus": "RUNNING",
        "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": agent}],
    }
    aws.stubbers["ecs"].add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": TASK_ARN,
                    "lastStatus": "RUNNING",
                    "enableExecuteCommand": task_exec,
                    "containers": [container],
                }
            ]
        },
        {"cluster": CLUSTER, "tasks": arns},
    )


def session_expected(local_port: int) -> dict[str, Any]:
    return {
        "Target": f"ecs:{CLUSTER}_{TASK_ID}_{RUNTIME_ID}",
        "DocumentName": "AWS-StartPortForwardingSessionToRemoteHost",
        "Parameters": {"host": [ENDPOINT], "portNumber": ["5432"], "localPortNumber": [str(local_port)]},
    }


def ssm_session(aws: FakeAws, local_port: int, *, terminate: bool = True) -> None:
    aws.stubbers["ssm"].add_response("start_session", dict(SESSION), session_expected(local_port))
    if terminate:
        aws.stubbers["ssm"].add_response(
            "terminate_session", {"SessionId": SESSION["SessionId"]}, {"SessionId": SESSION["SessionId"]}
        )


def a_whole_tunnel(aws: FakeAws, local_port: int) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    service_stack(aws)
    ecs_service(aws)
    ecs_tasks(aws)
    ssm_session(aws, local_port)


def test_tunnel_runs_psql_through_a_letta_task_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    port = connect.free_local_port()
    a_whole_tunnel(aws, port)
    code, out, err = run(
        capsys, *tunnel_argv(tunnel_tools, "--local-port", str(port), "--", "-c", "SELECT 1"), client_factory=aws
    )
    assert code == 7  # psql's own exit code
    psql = json.loads(tunnel_tools["psql_record"].read_text())
    assert psql["argv"][1:] == [
        f"host=127.0.0.1 port={port} dbname=letta user=postgres sslmode=require",
        "-c",
        "SELECT 1",
    ]
    assert psql["password"] == MASTER_PASSWORD and psql["port_open"]
    plugin = json.loads(tunnel_tools["plugin_record"].read_text())
    # As `aws ssm start-session` calls it, the session token in its environment, not on its command line.
    assert plugin["argv"][1:] == [
        "AWS_SSM_START_SESSION_RESPONSE",
        "eu-west-1",
        "StartSession",
        "",
        json.dumps(session_expected(port)),
        "https://ssm.eu-west-1.amazonaws.com",
    ]
    assert json.loads(plugin["env"]) == SESSION
    assert Path(f"{tunnel_tools['plugin_record']}.terminated").exists()  # the plugin was stopped
    assert MASTER_PASSWORD not in out + err
    assert f"through task {TASK_ID}" in err
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()  # the session was terminated on AWS's side too


def test_an_old_plugin_gets_the_session_on_its_command_line_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "1.2.497.0")
    port = connect.free_local_port()
    a_whole_tunnel(aws, port)
    code, _, _ = run(capsys, *tunnel_argv(tunnel_tools, "--local-port", str(port)), client_factory=aws)
    assert code == 7
    plugin = json.loads(tunnel_tools["plugin_record"].read_text())
    assert json.loads(plugin["argv"][1]) == SESSION and plugin["env"] is None


def test_tunnel_print_holds_the_tunnel_until_it_closes_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_LIFE", "1")
    port = connect.free_local_port()
    a_whole_tunnel(aws, port)
    code, out, err = run(capsys, *tunnel_argv(tunnel_tools, "--local-port", str(port), "--print"), client_factory=aws)
    assert code == 0
    assert out == f"postgresql://postgres:****@127.0.0.1:{port}/letta?sslmode=require\n"
    assert "tunnel open; Ctrl-C closes it" in err
    assert not tunnel_tools["psql_record"].exists()


def test_tunnel_without_the_plugin_says_what_to_install_before_any_aws_call_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--tunnel", "--session-manager-plugin", str(tmp_path / "nowhere" / "session-manager-plugin")]
    code, out, err = run(capsys, *argv, client_factory=aws)
    assert (code, out, aws.calls) == (connect.EXIT_TUNNEL, "", [])
    assert "--tunnel needs the Session Manager plugin for the AWS CLI" in err
    assert "session-manager-working-with-install-plugin" in err


def test_tunnel_with_ecs_exec_off_names_the_config_key_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    service_stack(aws)
    ecs_service(aws, exec_enabled=False)
    code, _, err = run(capsys, *tunnel_argv(tunnel_tools), client_factory=aws)
    assert code == connect.EXIT_TUNNEL
    assert f"connect.py: error: ECS Exec is off for service {SERVICE}: set enable_ecs_exec to true" in err
    assert not tunnel_tools["plugin_record"].exists()  # no session was started


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ({"arns": []}, f"no running task in service {SERVICE} to tunnel through"),
        (
            {"task_exec": False},
            f"task {TASK_ID} started before ECS Exec was on: replace it with `aws ecs update-service",
        ),
        ({"agent": "PENDING"}, f"the ECS Exec agent of task {TASK_ID} is PENDING"),
    ],
)
def test_tunnel_says_why_no_task_can_carry_it_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], tasks: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    service_stack(aws)
    ecs_service(aws)
    ecs_tasks(aws, **tasks)
    code, _, err = run(capsys, *tunnel_argv(tunnel_tools), client_factory=aws)
    assert code == connect.EXIT_TUNNEL
    assert message in err


def test_tunnel_refused_by_ssm_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.secret(MASTER_SECRET_ARN, master_secret())
    service_stack(aws)
    ecs_service(aws)
    ecs_tasks(aws)
    aws.stubbers["ssm"].add_client_error(
        "start_session",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ssm:StartSession",
        http_status_code=400,
    )
    code, _, err = run(capsys, *tunnel_argv(tunnel_tools), client_factory=aws)
    assert code == connect.EXIT_TUNNEL
    assert "SSM refused a port-forwarding session to ecs:" in err and "ssm:StartSession" in err


def test_a_plugin_that_dies_closes_the_session_stubbed(
    aws: FakeAws, tunnel_tools: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_FAIL", "1")
    port = connect.free_local_port()
    a_whole_tunnel(aws, port)
    code, _, err = run(capsys, *tunnel_argv(tunnel_tools, "--local-port", str(port)), client_factory=aws)
    assert code == connect.EXIT_TUNNEL
    assert "session-manager-plugin exited with code 255 before the tunnel opened" in err
    assert not tunnel_tools["psql_record"].exists()
    aws.stubbers["ssm"].assert_no_pending_responses()  # terminate_session was called


def test_local_port_needs_tunnel(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--local-port", "15432")
    assert code == 2 and "--local-port only goes with --tunnel" in err

"""The Letta container of the synthesized task definition, run on this machine: its command, its environment,
its secrets by name, and Letta 0.16.8's own `startup.sh`, laid out as the image has it.

What is adapted, and only that (the command and `startup.sh` run byte for byte):
- the image's working directory `/app` is `<state>/letta-<n>/app`, holding `letta/server/startup.sh`,
  `alembic.ini` and `alembic/` from the sdist (`startup.sh` runs `alembic upgrade head` there);
- `/app/.venv/bin` is the cached Letta venv's `bin`, first on PATH, so the command's `python3` is Letta's;
- `redis-server`/`redis-cli` are Debian's (`scripts/rehearse.sh` installs them); for a single instance,
  whose `startup.sh` starts its own Redis as a task does, `<state>/letta-<n>/bin` holds two shims that give that
  Redis a port of its own on loopback (`private_redis_shims`): a task has its own network namespace, one machine
  does not, and on the image's fixed 6379 a second rehearsal's Letta would silently share the first one's Redis;
- `/usr/local/bin/otelcol-contrib` is absent: `startup.sh` starts it in the background, where the failure
  does not stop the script (`set -e` ignores asynchronous commands); `up` says so in one line.
Variables the rehearsal leaves out of the task's: PGSSLMODE and the RDS roots (LETTA_DB_CA_PEM): the embedded
PostgreSQL has no TLS, and no RDS root would sign its certificate if it had (tests/test_db_tls.py proves the verified
path against a TLS-only PostgreSQL with a test CA).
Variables the rehearsal adds to the task's: PATH, HOME (`<state>/letta-<n>/home`), HOST/PORT (the script's
own knobs: loopback and a port per instance), OPENAI_BASE_URL (the offline echo: an endpoint, not a secret,
so it is not in the LLM-keys secret), LETTA_REDIS_HOST/PORT when instances share a Redis (LETTA_REDIS_PORT alone
for a single instance's own Redis), and in offline mode HTTP(S)_PROXY at a closed loopback port so Letta's
internet fetches fail at once instead of hanging.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts.operator_cli import OperatorError
from stacks import letta_contract as letta
from stacks.service.log_filter import SUPERVISOR_SOURCE
from stacks.service.supervisor import DB_CA_VAR, SSL_MODE_VAR

CLOSED_PROXY = "http://127.0.0.1:9"
SYNTH_HINT = "run `bash scripts/setup.sh`, or `npx cdk synth -c env=dev -o cdk.out/dev`"


@dataclass(frozen=True)
class ContainerSpec:
    """The Letta container as the synthesized task definition declares it."""

    command: list[str]
    environment: dict[str, str]
    secret_names: list[str]
    template: Path


def read_task_definition(cdk_out: Path) -> ContainerSpec:
    """The Letta container of the one ECS task definition among the templates in `cdk_out`."""
    found = []
    for template in sorted(cdk_out.glob("*.template.json")):
        resources = json.loads(template.read_text(encoding="utf-8")).get("Resources", {})
        for resource in resources.values():
            if resource.get("Type") == "AWS::ECS::TaskDefinition":
                for container in resource["Properties"]["ContainerDefinitions"]:
                    if any(p.get("ContainerPort") == letta.PORT for p in container.get("PortMappings", [])):
                        found.append((template, container))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise OperatorError(f"{what} Letta task definition in {cdk_out}: {SYNTH_HINT}")
    template, container = found[0]
    command = list(container["Command"])
    if "-c" in command and command[command.index("-c") + 1] != SUPERVISOR_SOURCE:
        # The supervisor travels inside the command: a synth older than supervisor.py would rehearse old code.
        raise OperatorError(f"{template.name} holds an older stacks/service/supervisor.py: {SYNTH_HINT}")
    return ContainerSpec(
        command=list(container["Command"]),
        environment={e["Name"]: e["Value"] for e in container.get("Environment", [])},
        secret_names=[s["Name"] for s in container.get("Secrets", [])],
        template=template,
    )


def container_env(spec: ContainerSpec, secrets: Mapping[str, str], *, offline: bool, **adds: str) -> dict[str, str]:
    """The whole environment of the command: the task's variables, each secret under its own name, then the
    rehearsal's additions (`adds`: PATH, HOME, PORT, ...; see the module docstring). Nothing else leaks in."""
    missing = [name for name in spec.secret_names if name not in secrets]
    if missing:
        raise OperatorError(f"the task definition names secrets the rehearsal cannot supply: {', '.join(missing)}")
    task = {k: v for k, v in spec.environment.items() if k not in (SSL_MODE_VAR, DB_CA_VAR)}  # see the docstring
    env = task | {name: secrets[name] for name in spec.secret_names} | {"HOST": "127.0.0.1", "LANG": "C.UTF-8"}
    if offline:
        env |= dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), CLOSED_PROXY)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env | adds


def collector_note() -> str:
    """One line on the OpenTelemetry collector `startup.sh` starts in the background."""
    collector = Path("/usr/local/bin/otelcol-contrib")
    if collector.exists():
        return f"otel: {collector} present; startup.sh starts it with /etc/otel's config"
    return f"otel: {collector} is absent here (the image has it); startup.sh's background start fails, Letta runs on"


def private_redis_shims(bin_dir: Path, port: int) -> dict[str, str]:
    """`redis-server` and `redis-cli` shims in `bin_dir` that pin `startup.sh`'s own Redis (`redis-server
    --daemonize yes --bind 0.0.0.0`, then `redis-cli ping`) to `port` on loopback; returns what the command's
    environment adds: `LETTA_REDIS_PORT`, where Letta's client then connects (startup.sh sets the host). Put
    `bin_dir` first on PATH. Everything else of the start script runs as written."""
    real = {name: shutil.which(name) for name in ("redis-server", "redis-cli")}
    missing = [name for name, path in real.items() if not path]
    if missing:
        raise OperatorError(f"{' and '.join(missing)} not installed: run `bash scripts/rehearse.sh` (installs redis)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    shims = {
        # Later options win: the port and the bind address replace the script's.
        "redis-server": f'exec {real["redis-server"]} "$@" --port {port} --bind 127.0.0.1',
        "redis-cli": f'exec {real["redis-cli"]} -p {port} "$@"',
    }
    for name, line in shims.items():
        shim = bin_dir / name
        note = "# The rehearsal's stand-in for a task's own network namespace (scripts/rehearsal/container.py)."
        shim.write_text(f"#!/bin/sh\n{note}\n{line}\n")
        shim.chmod(0o755)
    return {letta.REDIS_PORT: str(port)}

"""The container command that keeps Letta's secrets out of CloudWatch and loses no line of its log.

The pinned Letta (stacks/letta_contract.py) prints secrets at every start: alembic's `Using database: postgresql+pg8000://user:PASSWORD@…`
and secure mode's `▶ Using secure mode with password: PASSWORD`. The container therefore runs a small
supervisor (supervisor.py, stdlib only) as PID 1 with the image's Python; it starts Letta's own start script
with stdout and stderr into a pipe, masks the values of the task's secret variables and any
`scheme://user:password@` or `password: value` credentials with `****`, forwards ECS's signals, drains the
pipe after the start script exits and exits with its code. The supervisor's source is embedded in the command
(`python3 -c`), because nothing can be added to the image.

No CDK import: tests run this very command, as PID 1 of a new PID namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stacks.letta_contract import START_SCRIPT
from stacks.service.supervisor import LLM_KEY_MAP_VAR, LLM_KEYS_VAR

__all__ = ["LETTA_START", "LLM_KEYS_VAR", "LLM_KEY_MAP_VAR", "MASK", "start_command"]

LETTA_START = START_SCRIPT
MASK = "****"
SUPERVISOR_SOURCE = Path(__file__).with_name("supervisor.py").read_text(encoding="utf-8")


def start_command(*, masked_env_vars: Sequence[str], start: str = LETTA_START, python: str = "python3") -> list[str]:
    """The container command: the supervisor running Letta's start script (`start`), masking the values of
    `masked_env_vars` (the names of the task's secrets, so that the list cannot drift from them)."""
    names = list(dict.fromkeys(masked_env_vars))
    for name in names:
        # Names travel as arguments after the start script; anything else would be a wiring mistake.
        if not name or not name.replace("_", "").isalnum():
            raise ValueError(f"not an environment variable name: {name!r}")
    return [python, "-u", "-c", SUPERVISOR_SOURCE, start, *names]

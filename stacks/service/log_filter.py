"""The start command that keeps Letta's secrets out of CloudWatch.

Letta 0.16.8 prints secrets at every start: alembic's `Using database: postgresql://user:PASSWORD@…` and
secure mode's `Using secure mode with password: PASSWORD` (older start scripts also echoed the whole
LETTA_PG_URI). The container therefore runs Letta's own start script with its
stdout and stderr piped through a small Python filter (the image ships Python) that replaces the exact
values of the secret environment variables, and any `scheme://user:password@` credentials, with `****`
before a line reaches the log driver. The start script is `exec`ed, so it keeps PID 1, receives ECS's
SIGTERM directly and its exit code is the container's.

No CDK import: tests run the very same command in bash.
"""

from __future__ import annotations

from collections.abc import Sequence

# The LLM-keys secret arrives whole, as JSON, in LLM_KEYS_VAR; LLM_KEY_MAP_VAR (plain JSON, names only) says
# which member becomes which provider variable.
LLM_KEYS_VAR = "LETTA_LLM_KEYS"
LLM_KEY_MAP_VAR = "LETTA_LLM_KEY_MAP"
LETTA_START = "./letta/server/startup.sh"
MASK = "****"

# Runs inside the container as `python3 -u -c …`; kept free of quotes so it nests in `bash -c '…'`.
_FILTER = r"""
import os, re, sys
secrets = []
for name in sys.argv[1:]:
    value = os.environ.get(name) or ""
    found = re.search(r"://[^:/@\s]+:([^@\s]+)@", value)
    if found:
        value = found.group(1)
    if len(value) >= 4:
        secrets.append(value)
secrets.sort(key=len, reverse=True)
creds = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
word = re.compile(r"(password[^:=\n]{0,20}[:=]\s*)\S+", re.I)
for line in sys.stdin:
    for value in secrets:
        line = line.replace(value, "MASK")
    line = creds.sub(r"\1MASK@", line)
    line = word.sub(r"\1MASK", line)
    sys.stdout.write(line)
    sys.stdout.flush()
""".replace("MASK", MASK)


def start_command(*, masked_env_vars: Sequence[str], start: str = LETTA_START, python: str = "python3") -> list[str]:
    """The container command: Letta's start script (`start`) with all its output through the filter, which
    masks the values of `masked_env_vars` (of a URI, only the password, so the host stays readable)."""
    masked = " ".join(masked_env_vars)
    script = f"exec > >({python} -u -c '{_FILTER}' {masked}) 2>&1\nexec {start}"
    return ["bash", "-c", script]

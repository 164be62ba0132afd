"""Running the local rehearsal's command line from the tests, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def local_stack(state_dir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def own_redis_port(up_stdout: str) -> int:
    """The port of the Redis that startup.sh started for letta-0, as `up` reported it."""
    match = re.search(
        r"^letta-0: its own redis-server on 127\.0\.0\.1:(\d+) \(started by startup\.sh\)$", up_stdout, re.M
    )
    assert match, up_stdout
    return int(match.group(1))


def redis_dir(port: int) -> str | None:
    """The working directory of the redis-server on `port` (where it was started), None when none answers."""
    answer = subprocess.run(
        ["redis-cli", "-p", str(port), "config", "get", "dir"], capture_output=True, text=True, timeout=10, check=False
    )
    lines = answer.stdout.split()
    return lines[1] if answer.returncode == 0 and len(lines) == 2 else None

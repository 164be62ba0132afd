"""Start, recognise and stop the rehearsal's own processes, by PID *and* start time (psutil: Linux and macOS).

A PID alone is not proof of ownership: after a reboot or a long pause another program may hold it. Every
process `up` starts is recorded as `[pid, create_time]`; `down` touches it only while both still match.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

Record = list[float]
"""`[pid, create_time]` as stored in the state file (JSON has no tuples)."""


def spawn(command: Sequence[str], *, cwd: Path, log: Path, env: Mapping[str, str] | None = None) -> Record:
    """Start `command` detached (own session, so `down` from another shell can stop its whole group),
    output appended to `log`; return its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return [child.pid, psutil.Process(child.pid).create_time()]


def owned(record: Sequence[float] | None) -> psutil.Process | None:
    """The recorded process if it still runs (and is not a zombie), else None."""
    if not record:
        return None
    try:
        process = psutil.Process(int(record[0]))
        if abs(process.create_time() - float(record[1])) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.Error, ValueError, IndexError):
        return None
    return process


def stop(record: Sequence[float] | None, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process (the container's supervisor forwards it to Letta), then SIGKILL what is
    left of its process group; True if it was running."""
    process = owned(record)
    if process is None:
        return False
    family = [process, *_children(process)]
    with contextlib.suppress(psutil.Error):
        process.terminate()
    _, alive = psutil.wait_procs([process], timeout=timeout)
    with contextlib.suppress(psutil.Error, PermissionError, ProcessLookupError):
        if alive:
            os.killpg(process.pid, 9)
    _, leftovers = psutil.wait_procs([p for p in family if p.is_running()], timeout=5)
    for child in leftovers:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return True


def stop_strays(name: str, cwd: Path) -> int:
    """Stop every `name` process whose working directory is `cwd`: what daemonized itself out of our process
    group there (startup.sh's private `redis-server --daemonize yes` keeps its cwd, the app folder)."""
    found = []
    for process in psutil.process_iter(["name", "cwd"]):
        if process.info["name"] == name and process.info["cwd"] == str(cwd):
            found.append(process)
            with contextlib.suppress(psutil.Error):
                process.terminate()
    psutil.wait_procs(found, timeout=10)
    return len(found)


def _children(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return process.children(recursive=True)
    return []


def port_busy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

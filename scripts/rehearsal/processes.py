"""Start, recognise and stop the rehearsal's own processes by PID *and* start time (a PID alone may have been
reused by another program), with psutil: Linux and macOS."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from scripts.operator_cli import OperatorError

Record = list[float]
"""`[pid, create_time]` as stored in the state file (JSON has no tuples)."""


def spawn(command: Sequence[str], *, cwd: Path, log: Path, env: Mapping[str, str] | None = None) -> Record:
    """Start `command` detached (own session: it outlives `up`), output appended to `log`; return its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        kw = {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": subprocess.STDOUT, "start_new_session": True}
        child = subprocess.Popen(list(command), cwd=cwd, env=None if env is None else dict(env), **kw)
    return [child.pid, psutil.Process(child.pid).create_time()]


def owned(record: Sequence[float] | None) -> psutil.Process | None:
    """The recorded process if it still runs (not a zombie) and started when recorded, else None."""
    with contextlib.suppress(psutil.Error, ValueError, IndexError, TypeError):
        pid, started = record or ()
        process = psutil.Process(int(pid))
        if abs(process.create_time() - float(started)) < 0.01 and process.status() != psutil.STATUS_ZOMBIE:
            return process
    return None


def stop(records: Mapping[str, Record], timeout: float = 10.0) -> list[str]:
    """SIGTERM every recorded process at once (the container's supervisor forwards it to Letta), SIGKILL what is
    left of their families after `timeout`; the names of those that were running, in the order given.

    All at once, not one after another: each takes seconds to shut down (Letta's lifespan, the echo's poll), and
    a two-instance rehearsal has five of them."""
    running = {name: process for name, record in records.items() if (process := owned(record)) is not None}
    families: list[psutil.Process] = []
    for process in running.values():
        with contextlib.suppress(psutil.Error):
            families += [process, *process.children(recursive=True)]
            process.terminate()
    psutil.wait_procs(list(running.values()), timeout=timeout)
    for survivor in psutil.wait_procs([p for p in families if p.is_running()], timeout=5)[1]:
        with contextlib.suppress(psutil.Error):
            survivor.kill()
    return list(running)


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


class Parts:
    """The rehearsal's named processes: each started detached, recorded in `records` (saved by `save` at once,
    so `down` from another shell finds it), its output in `<logs>/<name>.log`."""

    def __init__(self, records: dict[str, Record], logs: Path, save: Callable[[], None]) -> None:
        self.records, self.logs, self.save = records, logs, save

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def running(self, name: str) -> bool:
        return owned(self.records.get(name)) is not None

    def start(self, name: str, command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        if not self.running(name):
            self.records[name] = spawn(command, cwd=cwd, log=self.log(name), env=env)
            self.save()

    def wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll `ready`; OperatorError with the telling line of the log if `name` exits or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running(name) or time.monotonic() > deadline:
                what = "exited" if not self.running(name) else f"was not ready within {timeout:.0f} s"
                lines = self.log(name).read_text(errors="replace").splitlines() if self.log(name).exists() else []
                telling = [line for line in lines if any(w in line for w in ("rror", "refused", "FATAL"))]
                last = (telling or lines or ["no output"])[-1].strip()[:300]
                raise OperatorError(f"{name} {what}: {last} (log: {self.log(name)})")
            time.sleep(0.5)

    def wait_port(self, name: str, port: int) -> None:
        self.wait(name, lambda: port_busy(port), timeout=30)


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

"""PID 1 of the Letta container: starts Letta's start script, masks its secrets in the log, loses no line.

Run as `python3 -u -c <this file's text> START NAME…` (see log_filter.start_command): START is Letta's start
script, each NAME an environment variable whose value is a secret. Stdlib only: it runs in the image's Python.

Why a supervisor and not `exec > >(filter) 2>&1; exec start`: with the start script as PID 1 and the filter
as its child, the kernel kills the filter when the start script exits, before the filter has drained the
pipe, so a crashing start lost its last lines, `ERROR: Database migration failed!` among them. Here the
process that writes the log is PID 1 itself and exits only after the pipe is drained. It also:
- forwards SIGTERM and SIGINT (and HUP, QUIT, USR1, USR2) to the start script: PID 1 gets no signal it has
  no handler for, so without forwarding ECS's SIGTERM would never reach Letta;
- reaps orphans (the start script's background redis-server and collector end up as its children);
- exits with the start script's code, 128+N when a signal N killed it;
- reads bytes, so an invalid UTF-8 byte passes through (still masked) instead of killing the log;
- refuses to start when LETTA_PG_URI is empty or not a postgresql:// URI, because the image's start script
  would then quietly run a throwaway PostgreSQL inside the task and lose every agent at the next restart;
- exports the LLM provider keys: the task receives the operator's LLM-keys secret whole, as JSON, in
  LETTA_LLM_KEYS, and LETTA_LLM_KEY_MAP (names only) says which member becomes which variable. A provider
  whose key is not stored yet is simply left out, where mapping single JSON keys as ECS secrets would keep
  every task from starting.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import sys
import time
from collections.abc import Iterable, Mapping

MASK = b"****"
LLM_KEYS_VAR = "LETTA_LLM_KEYS"
LLM_KEY_MAP_VAR = "LETTA_LLM_KEY_MAP"
EX_CONFIG = 78  # sysexits.h: configuration error
# Shorter values would mask ordinary words all over the log; no generated secret is that short.
MIN_SECRET_LENGTH = 4
FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# After the start script has exited, everything it wrote is already in the pipe; its background children
# (redis-server, the collector) may keep the pipe open forever, so the drain stops at the first quiet moment.
DRAIN_IDLE_SECONDS = 0.2
DRAIN_MAX_SECONDS = 5.0
# A line longer than this without a newline is written out anyway (masked), so memory stays bounded.
MAX_LINE_BYTES = 1 << 20

_URI_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
# Generic masks for what Letta prints: `Using database: postgresql+pg8000://user:PASSWORD@host…` and
# `Using secure mode with password: PASSWORD`, also when the value is not one of the task's secrets.
_CREDENTIALS = re.compile(rb"(://[^:/@\s]+:)[^@\s]+@")
_PASSWORD_WORD = re.compile(rb"(password[^:=\n]{0,20}[:=]\s*)\S+", re.IGNORECASE)


def secret_values(names: Iterable[str], environ: Mapping[str, str]) -> list[bytes]:
    """The byte strings to mask: each named variable's value, of a URI only its password (the host stays
    readable), of a multi-line value each line; longest first, so a secret containing another is masked whole."""
    found: set[bytes] = set()
    for name in names:
        value = environ.get(name) or ""
        uri = _URI_PASSWORD.search(value)
        if uri:
            value = uri.group(1)
        for piece in value.splitlines() or [value]:
            if len(piece.strip()) >= MIN_SECRET_LENGTH:
                found.add(piece.encode("utf-8", "surrogateescape"))
    return sorted(found, key=lambda s: (-len(s), s))


def mask(line: bytes, secrets: Iterable[bytes]) -> bytes:
    """`line` with every secret and every URI or `password:` credential replaced by MASK; other bytes unchanged."""
    for secret in secrets:
        line = line.replace(secret, MASK)
    line = _CREDENTIALS.sub(rb"\1" + MASK + b"@", line)
    return _PASSWORD_WORD.sub(rb"\1" + MASK, line)


def pg_uri_problem(environ: Mapping[str, str]) -> str | None:
    """Why LETTA_PG_URI cannot be used, in one line that never shows its value; None when it can."""
    uri = environ.get("LETTA_PG_URI") or ""
    if not uri.strip():
        return "LETTA_PG_URI is empty: refusing to start, Letta would run a throwaway PostgreSQL inside the task"
    if not uri.startswith("postgresql://"):
        return "LETTA_PG_URI is not a postgresql:// URI: refusing to start, Letta cannot use it"
    return None


def llm_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The provider variables to export: `{variable: key}` for each non-empty member of LETTA_LLM_KEYS that
    LETTA_LLM_KEY_MAP maps to a variable. Raises ValueError, in one line that shows no key, when either is not
    a JSON object of strings."""
    raw = environ.get(LLM_KEYS_VAR) or ""
    if not raw.strip():
        return {}
    try:
        keys = json.loads(raw)
        mapping = json.loads(environ.get(LLM_KEY_MAP_VAR) or "{}")
    except ValueError:
        keys = mapping = None
    for name, value in ((LLM_KEYS_VAR, keys), (LLM_KEY_MAP_VAR, mapping)):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(
                f'{name} is not a JSON object of strings: store the LLM keys as {{"OPENAI_API_KEY": "..."}}'
            )
    return {variable: keys[member] for variable, member in mapping.items() if keys.get(member)}


def exit_code(status: int) -> int:
    """The container's exit code for a wait status: the child's own, or 128+N for a death by signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything; False once the reader is gone (then the log is discarded, the start goes on)."""
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BrokenPipeError:
            return False
    return True


class _LineMasker:
    """Cuts the child's output into lines, masks each and writes it at once (one flush per line)."""

    def __init__(self, secrets: list[bytes], out_fd: int) -> None:
        self.secrets = secrets
        self.out_fd = out_fd
        self.pending = b""
        self.out_open = True

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        while True:
            end = self.pending.find(b"\n")
            if end < 0:
                if len(self.pending) >= MAX_LINE_BYTES:
                    self._emit(self.pending)
                    self.pending = b""
                return
            self._emit(self.pending[: end + 1])
            self.pending = self.pending[end + 1 :]

    def finish(self) -> None:
        """A last line without a newline is written as it is."""
        if self.pending:
            self._emit(self.pending)
            self.pending = b""

    def _emit(self, line: bytes) -> None:
        if self.out_open:
            self.out_open = _write_all(self.out_fd, mask(line, self.secrets))


def _say(message: str) -> None:
    _write_all(2, f"letta-supervisor: {message}\n".encode())


def supervise(command: list[str], masked_names: Iterable[str], out_fd: int = 1) -> int:
    """Run `command` with its stdout and stderr masked onto `out_fd`; return the container's exit code."""
    secrets = secret_values(masked_names, os.environ)
    masker = _LineMasker(secrets, out_fd)
    child: int | None = None
    pending_signals: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending_signals.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):  # already exited: its exit status says the rest
            os.kill(child, signum)

    # Every signal, SIGCHLD included, writes a byte to `wake_w`, so the select below wakes up for it.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)

    read_fd, write_fd = os.pipe()
    try:
        child = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write_fd, 1), (os.POSIX_SPAWN_DUP2, write_fd, 2)],
            # Python ignores SIGPIPE and SIGXFSZ; the start script gets the defaults a shell would give it.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except OSError as error:
        _say(f"cannot start {command[0]}: {error.strerror}")
        return 126 if isinstance(error, PermissionError) else 127
    finally:
        os.close(write_fd)
    for signum in pending_signals:
        forward(signum, None)

    status: int | None = None
    reading = True
    drain_deadline = 0.0
    while reading:
        # Wait for output or a signal; once the start script has exited, only for a quiet moment.
        timeout = None if status is None else min(DRAIN_IDLE_SECONDS, max(0.0, drain_deadline - time.monotonic()))
        ready, _, _ = select.select([read_fd, wake_r], [], [], timeout)
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
        if read_fd in ready:
            chunk = os.read(read_fd, 65536)
            if chunk:
                masker.feed(chunk)
            else:
                reading = False  # every writer has closed the pipe
        elif status is not None and wake_r not in ready:
            reading = False  # quiet after the start script's exit: all it wrote is out
        if status is None:
            status = _reap(child)
            if status is not None:
                drain_deadline = time.monotonic() + DRAIN_MAX_SECONDS
        elif time.monotonic() >= drain_deadline:
            reading = False  # its background children still write: they must not keep the task alive
    masker.finish()
    os.close(read_fd)
    while status is None:
        status = _reap(child, block=True)
    return exit_code(status)


def _reap(child: int, *, block: bool = False) -> int | None:
    """Reap every exited process (as PID 1, orphans are ours too); the child's wait status once it has exited."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            if block:
                raise  # the child is gone without our having reaped it: no exit code to report
            return None
        if pid == 0:
            return None
        if pid == child:
            return status


def main(argv: list[str]) -> int:
    """argv: the start script, then the names of the variables to mask."""
    if not argv:
        _say("usage: supervisor START [MASKED_VARIABLE ...]")
        return 64
    problem = pg_uri_problem(os.environ)
    if problem:
        _say(problem)
        return EX_CONFIG
    try:
        llm = llm_variables(os.environ)
    except ValueError as error:
        _say(f"{error}; refusing to start")
        return EX_CONFIG
    os.environ.update(llm)
    if llm:
        _say(f"LLM keys exported: {', '.join(sorted(llm))}")
    return supervise([argv[0]], [*argv[1:], *llm])


if __name__ == "__main__":  # also true under `python3 -c`, which is how the container runs this text
    sys.exit(main(sys.argv[1:]))

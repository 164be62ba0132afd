"""cdk.json's app.py, run on request in one warm process: what tests/support/cached_app.py asks for on a cache miss.

A cold `python app.py` spends most of its 10-15 s on 2 cores importing the CDK and starting jsii; in a process
that has done so once, the same synth takes about a second. The documented command lines
(tests/test_user_commands.py) carry some 30 distinct contexts, so the worker that runs them (they are one xdist
group) keeps one of these servers for its session. The app is app.py itself (`runpy`; or the script the request
names, such as tests/support/app_with_problem.py), with the environment, working directory and arguments the CLI
gave cached_app.py; its exit code and what it printed go back to the CLI.

One difference, made explicit: the CDK reads its output folder and context from the environment of its jsii
kernel, a node process started once with the server, so each request's `CDK_OUTDIR` and context (the CLI's
`CDK_CONTEXT_JSON` and overflow file) reach `cdk.App` as its `outdir` and `context` props, which the CDK applies
the same way (`node.setContext`). tests/test_user_commands.py checks that a warm synth writes the same templates
and manifest as a cold app.py.

Requests are served one at a time (one jsii kernel; os.environ is the app's input). Why not a library: the request
is the CDK app protocol (environment in, assembly and exit code out), which no process-pool tool speaks.

    python tests/support/synth_server.py SOCKET   # then cached_app.py with LETTA_SYNTH_SERVER=SOCKET
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import runpy
import socketserver
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aws_cdk  # noqa: E402  (the cold part, paid once)

import stacks.composition  # noqa: E402,F401
from tests.support.cached_app import cli_context  # noqa: E402


@contextlib.contextmanager
def app_inputs(env: dict[str, str], cwd: str) -> Iterator[None]:
    """The request's environment and working directory, and `cdk.App` given the CLI's outdir and context."""
    saved_env, saved_cwd, app = dict(os.environ), os.getcwd(), aws_cdk.App
    os.environ.clear()
    os.environ.update(env)
    aws_cdk.App = functools.partial(app, outdir=env["CDK_OUTDIR"], context=cli_context(env))  # type: ignore[misc]
    try:
        os.chdir(cwd)
        yield
    finally:
        aws_cdk.App = app  # type: ignore[misc]
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextlib.contextmanager
def captured_output() -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Files 1 and 2 of this process, for the duration: what app.py prints, through whichever object it holds
    (synth_gate binds `sys.stderr` at import, jsii forwards node's output from a thread), as a cold app's would."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield out, err
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_app(request: dict[str, Any]) -> dict[str, Any]:
    """The request's app script (app.py unless it names another) under its inputs; its exit code and output."""
    code = 0
    with captured_output() as (out, err), app_inputs(request["env"], request["cwd"]):
        try:
            runpy.run_path(str(ROOT / request.get("script", "app.py")), run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        out.seek(0)
        err.seek(0)
        printed = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    return {"code": code, "stdout": printed[0], "stderr": printed[1]}


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request = json.loads(self.rfile.readline())
        try:
            answer = run_app(request)
        except Exception as exc:  # the client says why, then runs the app cold
            answer = {"code": None, "stdout": "", "stderr": f"synth_server: {type(exc).__name__}: {exc}\n"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


def main() -> None:
    socket_path = sys.argv[1]
    with socketserver.UnixStreamServer(f"{socket_path}.tmp", Handler) as server:
        os.rename(f"{socket_path}.tmp", socket_path)  # appears only once it listens
        server.serve_forever()


if __name__ == "__main__":
    main()

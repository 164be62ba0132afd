"""cdk.json's app, behind a cache keyed by exactly what the CDK CLI hands the app: one synth per distinct context.

The documented command lines (tests/test_user_commands.py) run with the pinned CLI as written, each in a checkout of
its own whose cdk.json names this script as the app. The first command of a context runs cdk.json's real app and
keeps a copy of the assembly it wrote (and of what it printed); every later command with the same context gets that
copy instead of a second, identical synth (the CLI's `--app <assembly>`, without changing the line under test). A
failed synth is never cached. A miss goes to the test worker's warm synth server when it has one
(tests/support/synth_server.py), which runs the same app.py without paying the CDK's cold start again. Why not
a library: the cache key is the CLI's own app protocol (CDK_CONTEXT_JSON, its overflow file, the default account
and region), which no caching tool knows.

    LETTA_SYNTH_CACHE=<folder shared by the test workers> CDK_OUTDIR=... python tests/support/cached_app.py [APP]

APP, a Python app beside app.py (tests/support/app_with_problem.py), runs instead of cdk.json's app, on the same
terms.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "LETTA_SYNTH_CACHE"
SERVER_ENV = "LETTA_SYNTH_SERVER"


def cli_context(environ: dict[str, str]) -> dict[str, object]:
    """The context the CLI hands the app: CDK_CONTEXT_JSON, then its overflow file, as the CDK's App reads them."""
    context = json.loads(environ.get("CDK_CONTEXT_JSON") or "{}")
    overflow = environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow:
        context |= json.loads(Path(overflow).read_text())
    return context


def context_key(environ: dict[str, str], app: str) -> str:
    """A hash of everything the app reads from the CLI: the context (overflow included), the default account
    and region, and the app command itself."""
    inputs = {
        "context": cli_context(environ),
        "env": {k: environ.get(k) for k in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")},
        "app": app,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def link_tree(source: Path, target: Path) -> None:
    """`source`'s files into `target` as hard links (an assembly holds a 50 MB asset; nothing rewrites a file),
    without the CLI's own lock files, which belong to the command that holds them."""
    ignore = shutil.ignore_patterns("*.lock")
    shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True, ignore=ignore)


def run_app(app: str, env: dict[str, str], script: str = "app.py") -> subprocess.CompletedProcess[str]:
    """The app `app` (the command of `script`, a path from the repository's root): in the test worker's warm synth
    server when there is one (tests/support/synth_server.py: the script without the cold start), else as its own
    process."""
    server = env.get(SERVER_ENV)
    if server and Path(server).exists():
        try:
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(server)
                request = {"env": env, "cwd": os.getcwd(), "script": script}
                connection.sendall(json.dumps(request).encode() + b"\n")
                answer = json.loads(connection.makefile("rb").readline())
        except (OSError, ValueError) as exc:  # a server that died: the cold app still gives the right answer
            answer = {"code": None, "stderr": f"cached_app: no answer from the synth server ({exc})\n"}
        if answer["code"] is not None:
            return subprocess.CompletedProcess(app, answer["code"], answer["stdout"], answer["stderr"])
        sys.stderr.write(answer["stderr"])  # the server could not run it: say why, then run it cold
    return subprocess.run(shlex.split(app), env=env, capture_output=True, text=True, check=False)


def main(argv: list[str]) -> int:
    script = argv[0] if argv else "app.py"
    app = f"{sys.executable} {script}" if argv else json.loads((ROOT / "cdk.json").read_text())["app"]
    outdir = Path(os.environ["CDK_OUTDIR"]).absolute()  # the CLI's own folder is the working directory
    cache = Path(os.environ[CACHE_ENV]) / context_key(dict(os.environ), app)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{cache}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one synth per context, also across test workers
        if not (cache / "done").exists():
            ran = run_app(app, dict(os.environ) | {"CDK_OUTDIR": str(outdir)}, script)
            sys.stdout.write(ran.stdout)
            sys.stderr.write(ran.stderr)
            if ran.returncode != 0:
                return ran.returncode
            link_tree(outdir, cache / "assembly")
            (cache / "stdout").write_text(ran.stdout)
            (cache / "stderr").write_text(ran.stderr)
            (cache / "done").touch()
            return 0
    link_tree(cache / "assembly", outdir)
    sys.stdout.write((cache / "stdout").read_text())
    sys.stderr.write((cache / "stderr").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Turns every reason a synth must stop into one line on stderr and a non-zero exit.

The CDK CLI only fails when the app process does, and a failed validation plugin does not make the app
fail by itself: CDK's built-in template validation writes `failure` into validation-report.json and the
CLI still prints "Successfully synthesized" (exit 0). So the app reads the report it just wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import aws_cdk as cdk
from jsii.errors import JSIIError

from stacks.config import ConfigError

EXIT_CONFIG = 2
EXIT_VALIDATION = 3


def synthesize_or_explain(app: cdk.App, compose: Callable[[cdk.App], Any], *, err: TextIO = sys.stderr) -> int:
    """Builds `app` with `compose` and synthesizes it; returns 0, or prints why not and returns non-zero."""
    try:
        compose(app)
    except ConfigError as exc:
        # Nothing was synthesized: config is read before any construct exists.
        print(f"letta-aurora-cdk: {exc}", file=err)
        return EXIT_CONFIG
    except JSIIError as exc:
        # A construct refused a value the config let through: still one line, the construct's own message.
        print(f"letta-aurora-cdk: {_first_line(str(exc))}", file=err)
        return EXIT_CONFIG
    outdir = Path(app.outdir)
    with _held_stderr() as held:
        try:
            assembly = app.synth()
        except RuntimeError as exc:
            if "ValidationFailed" not in str(exc):
                held.release()
                raise
            # A plugin (cdk-nag) failed the synth after printing its multi-line report, which `held` swallows:
            # the same findings, one line each, come from the report file it wrote.
            lines = validation_lines(outdir / "validation-report.json")
            print(*lines or [f"letta-aurora-cdk: {_first_line(str(exc))}"], sep="\n", file=err)
            return EXIT_VALIDATION
        held.release()
    lines = validation_lines(Path(assembly.directory) / "validation-report.json")
    if lines:
        print(*lines, sep="\n", file=err)
        return EXIT_VALIDATION
    return 0


def validation_lines(report: Path) -> list[str]:
    """One line per violation in a failed validation report (none when the report is absent or passed)."""
    if not report.is_file():
        return []
    lines = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        if plugin.get("conclusion") != "failure":
            continue
        for violation in plugin.get("violations", []):
            where = ", ".join(c.get("constructPath", "?") for c in violation.get("violatingConstructs", []))
            description = _first_line(violation.get("description", ""))
            lines.append(
                f"letta-aurora-cdk: {plugin.get('pluginName')} {violation.get('ruleName')} at {where}: {description}"
            )
    return lines


class _Held:
    """What the jsii runtime wrote to stderr while held; `release` writes it through after all."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.buffer = io.BytesIO()
        self.stream = io.TextIOWrapper(self.buffer, encoding="utf-8", write_through=True)

    def settle(self) -> None:
        # jsii forwards node's stderr from a thread: wait until it has been quiet for a moment.
        size = -1
        while size != self.buffer.tell():
            size = self.buffer.tell()
            time.sleep(0.1)

    def release(self) -> None:
        self.settle()
        self.real.write(self.buffer.getvalue().decode("utf-8", "replace"))
        self.buffer.seek(0)
        self.buffer.truncate()


@contextlib.contextmanager
def _held_stderr() -> Iterator[_Held]:
    held = _Held(sys.stderr)
    sys.stderr = held.stream
    try:
        yield held
    finally:
        held.settle()
        sys.stderr = held.real


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"

"""The documentation a reader follows: every relative link and anchor resolves, and every command line on every
page is one the tests run or check as far as no AWS account allows.

- `npx cdk …`: run with the pinned CLI by tests/test_user_commands.py;
- `aws …`: the service, the operation and every option exist in botocore's models (the AWS CLI's own), and
  the operation's required options are all given;
- `.venv/bin/python scripts/….py …`: the script's own parser accepts the arguments (placeholders filled in);
- README's two commands: what `.ci/run` runs, exactly.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests.doc_pages import ROOT, CommandLine, anchors, command_lines, commands_starting, pages, relative_links

SCRIPT_PREFIX = ".venv/bin/python scripts/"
README_COMMANDS = (
    "bash scripts/setup.sh && bash scripts/rehearse.sh",
    ".venv/bin/python -m pytest",
)
FAST_TIER = '.venv/bin/python -m pytest -m "not synth and not cli and not postgres and not letta" -n 0'
# Placeholders the pages write, and a value of the right shape for each.
PLACEHOLDERS = {
    "agent-...": "agent-00000000-0000-4000-8000-000000000000",
    "postgresql://...": "postgresql://letta_app@127.0.0.1:5432/letta",
    "N": "1000",
    "M": "10",
}
# Options of the AWS CLI itself, valid with any operation.
AWS_GLOBAL_OPTIONS = {"query", "output", "region", "profile", "no-cli-pager", "cli-input-json", "debug"}


def test_pages_are_found_and_the_front_page_is_short() -> None:
    names = {p.name for p in pages()}
    assert {"README.md", "operations.md", "configuration.md", "scaling.md", "memory.md", "ci.md"} <= names
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_every_docs_page_is_linked_from_the_front_page() -> None:
    linked = {(ROOT / t.split("#")[0]).resolve() for t in relative_links(ROOT / "README.md") if t.split("#")[0]}
    for path in (ROOT / "docs").glob("*.md"):
        # Benchmark outputs are linked from the page that reports them.
        if not path.name.startswith("memory-benchmark"):
            assert path.resolve() in linked, f"README.md does not link {path.relative_to(ROOT)}"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        assert path.exists(), f"{page.name}: broken link {target}"
        if anchor:
            assert path.suffix == ".md", f"{page.name}: anchor into a non-page {target}"
            assert anchor in anchors(path), f"{page.name}: {target}: no heading with that anchor in {path.name}"


def test_the_link_checker_catches_a_broken_link_and_anchor(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("# Title\n\n## What `cdk destroy` leaves\n\n[a](#what-cdk-destroy-leaves) [b](missing.md)\n")
    assert relative_links(page) == ["#what-cdk-destroy-leaves", "missing.md"]
    assert anchors(page) == {"title", "what-cdk-destroy-leaves"}
    assert not (tmp_path / "missing.md").exists()


def test_every_command_line_has_a_check() -> None:
    unchecked = [
        str(c)
        for c in command_lines()
        if not c.line.startswith(("npx cdk ", "aws ", SCRIPT_PREFIX)) and c.line not in (*README_COMMANDS, FAST_TIER)
    ]
    assert not unchecked, f"command lines no test runs or checks: {unchecked}"


def test_ci_runs_exactly_readmes_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    written = [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]
    assert written == list(README_COMMANDS)
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not re.match(r"^(#|set |cd |export |trap |: )", line.strip())
    ]
    assert ci == written, f".ci/run runs {ci}, README says {written}"


# --- aws lines: botocore's models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@pytest.mark.parametrize("command", commands_starting("aws "), ids=str)
def test_an_aws_command_line_names_a_real_operation_and_options(
    command: CommandLine, botocore_session: botocore.session.Session
) -> None:
    problems = aws_problems(command.line, botocore_session)
    assert not problems, f"{command}: {problems}"


def test_the_aws_check_catches_a_misspelt_operation_option_and_a_missing_required_one(
    botocore_session: botocore.session.Session,
) -> None:
    assert aws_problems("aws rds describe-db-cluster-snapshot", botocore_session)
    assert aws_problems("aws rds describe-db-clusters --cluster-id x", botocore_session)
    assert aws_problems("aws ecs update-service --force-new-deployment", botocore_session) == [
        "required option --service missing"
    ]
    assert not aws_problems("aws ecs update-service --service s --no-force-new-deployment", botocore_session)


def aws_problems(line: str, session: botocore.session.Session) -> list[str]:
    words = shlex.split(line)
    service, operation = words[1], words[2] if len(words) > 2 else ""
    if service not in session.get_available_services():
        return [f"no AWS service {service!r}"]
    model = session.get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    if operation not in operations:
        return [f"{service} has no operation {operation!r}"]
    shape = model.operation_model(operations[operation]).input_shape
    members = {xform_name(name, "-"): name for name in (shape.members if shape else {})}
    given = set()
    problems = []
    for word in words[3:]:
        if not word.startswith("--"):
            continue
        name = word[2:].split("=", 1)[0]
        if name.startswith("no-") and name[3:] in members:
            name = name[3:]  # the CLI's negated boolean
        if name in members:
            given.add(members[name])
        elif name not in AWS_GLOBAL_OPTIONS:
            problems.append(f"no option --{name}")
    for required in shape.required_members if shape else []:
        if required not in given:
            problems.append(f"required option --{xform_name(required, '-')} missing")
    return problems


# --- script lines: the script's own parser ---------------------------------------------------------------------


class _Parsed(BaseException):
    """Raised right after a successful parse, so that nothing of the script runs beyond its parser."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


@contextmanager
def parse_only() -> Iterator[None]:
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> argparse.Namespace:
        raise _Parsed(original(self, *args, **kwargs))

    argparse.ArgumentParser.parse_args = parse_and_stop  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]


def script_arguments(line: str) -> tuple[str, list[str]]:
    """(module, argv) of a documented script line, optional parts taken, placeholders filled in."""
    words = shlex.split(line.replace("[", " ").replace("]", " "))
    script = words[1].removeprefix("scripts/").removesuffix(".py")
    return f"scripts.{script}", [PLACEHOLDERS.get(w, w) for w in words[2:]]


def parsed(module: str, argv: list[str]) -> argparse.Namespace:
    with parse_only():
        try:
            importlib.import_module(module).main(argv)
        except _Parsed as done:
            return done.namespace
        except SystemExit as exit_:
            pytest.fail(f"{module} refuses {argv} (exit {exit_.code})")
    pytest.fail(f"{module}.main never parsed its arguments")


@pytest.mark.parametrize("command", commands_starting(SCRIPT_PREFIX), ids=str)
def test_a_script_command_line_is_accepted_by_the_scripts_parser(command: CommandLine) -> None:
    module, argv = script_arguments(command.line)
    assert parsed(module, argv) is not None


def test_the_script_check_catches_an_unknown_option() -> None:
    with pytest.raises(pytest.fail.Exception, match="refuses"):
        parsed("scripts.local_stack", ["up", "--offline", "--frobnicate"])

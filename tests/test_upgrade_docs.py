"""Every command line of docs/upgrade.md ("Upgrade Letta"), checked as far as no AWS account allows:

- `npx cdk ...`: run with the pinned CLI, as tests/test_user_commands.py runs README's, up to the missing account;
- `aws ...`: the operation (or waiter) and every option exist in the AWS CLI's own service model (botocore's,
  the same data the CLI is generated from), and each required parameter is given;
- `python scripts/local_stack.py ...` and `python -m scripts.rehearsal.letta_install ...`: parsed by the scripts'
  own argument parsers (tests/test_rehearsal_upgrade.py runs the rehearsal's upgrade for real).
A line of any other kind fails the test: it would be a command nobody checks.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from scripts import local_stack
from scripts.rehearsal import letta_install
from tests.test_user_commands import README_ENV, check_outcome, cli_env, run_bash

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "upgrade.md"


def commands() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.S):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def of_kind(prefix: str) -> list[str]:
    return [c for c in commands() if c.startswith(prefix)]


def test_every_command_of_the_page_is_of_a_kind_this_file_checks() -> None:
    kinds = ("npx cdk ", "aws ", "python scripts/local_stack.py ", "python -m scripts.rehearsal.letta_install ")
    assert [c for c in commands() if not c.startswith(kinds)] == []
    assert len(of_kind("aws ")) == 2 and len(of_kind("npx cdk ")) == 2 and len(of_kind("python ")) == 8


@pytest.mark.parametrize("command", of_kind("aws "))
def test_an_aws_command_names_an_operation_and_options_the_cli_has(command: str) -> None:
    words = shlex.split(command)
    service = botocore.session.get_session().get_service_model(words[1])
    if words[2] == "wait":  # `aws rds wait <waiter>`: the waiter's operation takes the options
        waiters = botocore.session.get_session().get_waiter_model(words[1])
        waiter = next(w for w in waiters.waiter_names if xform_name(w, "-") == words[3])
        operation = service.operation_model(waiters.get_waiter(waiter).operation)
        options = words[4:]
    else:
        operation = service.operation_model(next(o for o in service.operation_names if xform_name(o, "-") == words[2]))
        options = words[3:]
    members = {xform_name(name, "-"): name for name in operation.input_shape.members}
    given = {word[2:] for word in options if word.startswith("--")}
    assert given <= set(members), f"{command}: no such option {given - set(members)}"
    required = {xform_name(name, "-") for name in operation.input_shape.required_members}
    assert required <= given, f"{command}: missing {required - given}"


@pytest.mark.parametrize("command", of_kind("python "))
def test_a_rehearsal_command_parses(command: str) -> None:
    words = shlex.split(command)
    if words[1] == "scripts/local_stack.py":
        local_stack.build_parser().parse_args(words[2:])
    else:
        parser_words = words[3:]
        assert (
            "--version" in parser_words and parser_words[parser_words.index("--version") + 1] in letta_install.RELEASES
        )
        with pytest.raises(SystemExit) as done:  # --help proves the flags exist without running an install
            letta_install.main([*parser_words, "--help"])
        assert done.value.code == 0


@pytest.mark.cli
@pytest.mark.parametrize("command", of_kind("npx cdk "))
def test_a_cdk_command_of_the_page_gets_as_far_as_no_account_allows(command: str, tmp_path: Path) -> None:
    check_outcome(command, run_bash(command, {**cli_env(tmp_path), **README_ENV}, tmp_path))

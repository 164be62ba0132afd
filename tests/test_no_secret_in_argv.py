"""No secret value on a command line: every command the stacks output and every command the docs show reads
secrets from a file (mode 0600) or stdin (`--secret-string file://…`), never from an argument, which shell
history keeps and `ps` shows every user of the machine. And no operator script takes one: each script's real
parser (captured from its `main`) refuses a DSN that carries a password and any flag that would take a token."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.cdk_app import VARIANTS, synthesized
from tests.doc_pages import command_lines

# A value follows these options or assignments on the same command line: anything but a file reference is inline.
_INLINE = [
    re.compile(r"--secret-string[ =](?!file://)\S"),
    re.compile(r"--secret-binary[ =](?!fileb?://)\S"),
    re.compile(r"--password[ =]\S"),
    re.compile(r"\b(?:PGPASSWORD|LETTA_SERVER_PASSWORD|LETTA_ENCRYPTION_KEY|[A-Z]+_API_KEY)=\S"),
    re.compile(r"\bsk-[A-Za-z0-9.-]"),  # an OpenAI or Anthropic key, or its placeholder, typed into a command
    re.compile(r"--token[ =]"),  # smoke_test.py's server password: --token-file or $LETTA_SERVER_PASSWORD instead
    re.compile(r"\b[a-z]+://[^\s/@:]+:[^\s/@]+@"),  # a URI with user:password@ (a --dsn's goes into PGPASSWORD)
    re.compile(r"(?:^|[\s?&'\"])password=\S"),  # a conninfo's password=… or a URI's ?password=…
]


# README.md is the lead's page: its step 2 still shows the inline form until the lead applies this branch's
# replacement (the report's "For README"). Listed here so that the test fails once it is gone: then delete it.
def inline_secrets(command: str) -> list[str]:
    return [pattern.pattern for pattern in _INLINE if pattern.search(command)]


@pytest.mark.parametrize(
    ("command", "inline"),
    [
        ('aws secretsmanager put-secret-value --secret-id x --secret-string \'{"A": "b"}\'', True),
        ("aws secretsmanager put-secret-value --secret-id x --secret-string file://keys.json", False),
        ("aws secretsmanager put-secret-value --secret-id x --secret-string file:///dev/stdin", False),
        ("PGPASSWORD=hunter2 psql -h db", True),
        ("OPENAI_API_KEY=sk-abc letta server", True),
        ("psql --password=x", True),
        ("aws secretsmanager get-secret-value --secret-id x", False),
        (".venv/bin/python scripts/smoke_test.py --base-url http://127.0.0.1:8283 --token abc", True),
        (".venv/bin/python scripts/smoke_test.py --base-url http://127.0.0.1:8283 --token-file token.txt", False),
        (".venv/bin/python scripts/inspect_db.py --dsn postgresql://letta:pw@127.0.0.1:5432/letta", True),
        (".venv/bin/python scripts/inspect_db.py --dsn 'postgresql://letta@db/letta?password=pw'", True),
        (".venv/bin/python scripts/inspect_db.py --dsn 'host=db user=letta password=pw'", True),
        (".venv/bin/python scripts/inspect_db.py --dsn postgresql://letta@127.0.0.1:5432/letta", False),
    ],
)
def test_the_scanner_tells_inline_values_from_file_references(command: str, inline: bool) -> None:
    assert bool(inline_secrets(command)) is inline


def stack_outputs() -> dict[str, Any]:
    found = {}
    for overrides in VARIANTS:
        for stack in synthesized(**overrides).root.stacks_recursively:
            for name, output in stack.template.get("Outputs", {}).items():
                found[f"{stack.stack_name}.{name}"] = output
    return found


def test_no_stack_output_puts_a_secret_on_a_command_line() -> None:
    outputs = stack_outputs()
    assert "letta-dev-data.SetLlmKeysCommand" in outputs
    found = {name: inline_secrets(json.dumps(output["Value"])) for name, output in outputs.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_set_llm_keys_reads_the_keys_from_stdin() -> None:
    output = stack_outputs()["letta-dev-data.SetLlmKeysCommand"]
    assert json.dumps(output["Value"]).endswith('--secret-string file:///dev/stdin"]]}')
    assert "Ctrl-D" in output["Description"]


def test_no_documented_command_puts_a_secret_on_a_command_line() -> None:
    found = [f"{command}: {hits}" for command in command_lines() if (hits := inline_secrets(command.line))]
    assert found == []
    assert any("file:///dev/stdin" in command.line for command in command_lines() if command.page == "README.md")


# --- the operator scripts' own command lines ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Pw-in-argv-7q"
# A password in each form libpq reads from a connection string.
DSNS_WITH_A_PASSWORD = [
    f"postgresql://letta:{PASSWORD}@127.0.0.1:5432/letta",
    f"postgres://letta:{PASSWORD}@db.example.com/letta?sslmode=require",
    f"postgresql://letta@127.0.0.1:5432/letta?password={PASSWORD}",
    f"host=127.0.0.1 port=5432 dbname=letta user=letta password={PASSWORD}",
    f"host=127.0.0.1 dbname=letta user=letta password='{PASSWORD}'",
]
# A flag whose name says it carries a secret; it may take a value only as a path (…-file, …-from).
_SECRET_NAME = re.compile(r"token|passw|secret|api[-_]?key|credential")
_PATH_FLAG = re.compile(r"-(file|from)$")


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def _script_modules() -> list[str]:
    """Every module under scripts/ that builds a command line."""
    paths = sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "scripts").glob("*/*.py"))
    found = [p for p in paths if "add_argument(" in p.read_text(encoding="utf-8")]
    return [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in found]


def _real_parser(module_name: str) -> argparse.ArgumentParser:
    """The parser the script's ``main(argv)`` really parses with: caught at its first ``parse_args``."""

    def capture(self: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> NoReturn:
        raise _Captured(self)

    module = importlib.import_module(module_name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", capture)
        # scripts/rehearsal/front.py runs in Letta's venv and imports uvicorn before parsing: a stand-in will do.
        patch.setitem(sys.modules, "uvicorn", types.ModuleType("uvicorn"))
        with pytest.raises(_Captured) as caught:
            module.main([])
    return caught.value.parser


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and each subcommand's (argv prefix, parser)."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


SCRIPTS = _script_modules()
OPTIONS = [
    (module, prefix, parser, option, action)
    for module in SCRIPTS
    for prefix, parser in _commands(_real_parser(module))
    for action in parser._actions
    for option in action.option_strings
    if option.startswith("--")
]


def _parse(parser: argparse.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def test_every_scripts_real_parser_is_found() -> None:
    assert len(SCRIPTS) >= 15
    dsn = sorted({(m, " ".join(p)) for m, p, _, o, _ in OPTIONS if o == "--dsn"})
    assert dsn == [("scripts.benchmark_memory", ""), ("scripts.inspect_db", ""), ("scripts.smoke_test", "")]
    assert ("scripts.local_stack", ("up",), "--secrets-from") in {(m, p, o) for m, p, _, o, _ in OPTIONS}


@pytest.mark.parametrize("dsn", DSNS_WITH_A_PASSWORD)
@pytest.mark.parametrize(
    ("module", "prefix", "parser"),
    [
        pytest.param(m, p, parser, id=f"{m}{' ' + ' '.join(p) if p else ''}")
        for m, p, parser, o, _ in OPTIONS
        if o == "--dsn"
    ],
)
def test_no_script_takes_a_dsn_that_carries_a_password(
    module: str, prefix: tuple[str, ...], parser: argparse.ArgumentParser, dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _parse(parser, [*prefix, "--dsn", dsn], capsys)
    assert code == 2
    assert err.startswith(f"{parser.prog}: error: argument --dsn: the connection string holds a password")
    assert "PGPASSWORD" in err and "~/.pgpass" in err and "PGPASSFILE" in err
    assert PASSWORD not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("module", "prefix", "parser", "option"),
    [
        pytest.param(m, p, parser, o, id=f"{m} {' '.join(p)} {o}")
        for m, p, parser, o, action in OPTIONS
        if _SECRET_NAME.search(o) and action.nargs != 0 and not _PATH_FLAG.search(o)
    ],
)
def test_no_script_takes_a_secret_as_a_flags_value(
    module: str,
    prefix: tuple[str, ...],
    parser: argparse.ArgumentParser,
    option: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Such a flag exists only to refuse the value, in one line that says where it goes instead, without echoing it.
    for argv in ([*prefix, option, PASSWORD], [*prefix, f"{option}={PASSWORD}"]):
        code, err = _parse(parser, argv, capsys)
        assert code == 2, argv
        assert err.startswith(f"{parser.prog}: error: argument {option}: no secret on the command line")
        assert PASSWORD not in err
        assert err.count("\n") == 1


def test_smoke_tests_token_flag_is_refused_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import smoke_test

    with pytest.raises(SystemExit) as exited:
        smoke_test.main(["--base-url", "http://127.0.0.1:9", "--token", PASSWORD])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "--token-file" in err and "LETTA_SERVER_PASSWORD" in err
    assert PASSWORD not in err


def test_no_script_accepts_a_dsn_with_a_password_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import benchmark_memory, inspect_db, smoke_test

    for main in (inspect_db.main, smoke_test.main, benchmark_memory.main):
        with pytest.raises(SystemExit) as exited:
            main(["--dsn", DSNS_WITH_A_PASSWORD[0]])
        err = capsys.readouterr().err
        assert exited.value.code == 2
        assert "argument --dsn: the connection string holds a password" in err
        assert PASSWORD not in err

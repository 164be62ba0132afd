"""The user's own `cdk` command lines, run with the pinned CLI exactly as the documentation and the GitHub
workflows write them, as far as no AWS account allows.

The command lines are found, not listed: every `npx cdk …` line of README.md and docs/*.md (code blocks and
inline code, tests/doc_pages.py)
and every workflow step whose `run:` script calls `npx cdk`, run as GitHub runs it (bash -eo pipefail, the
step's env with `${{ … }}` filled from SAMPLES). With no credentials, `deploy`, `destroy` and `diff` must get
past stack selection and stop at the missing account: a stage-only app once made them stop at once with
"No stack found", and nothing noticed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cdk_app import ROOT
from tests.doc_pages import CommandLine, commands_starting
from tests.support.cached_app import CACHE_ENV, SERVER_ENV, run_app

# Every test here runs the pinned CDK CLI or app.py as a process, seconds each. All on one worker: they share that
# worker's warm synth server, whose cold start (the CDK's import, jsii, a first synth) each worker paid again.
pytestmark = [pytest.mark.cli, pytest.mark.xdist_group("cli")]

STACKS = {"dev": ("letta-dev-data", "letta-dev-reader", "letta-dev-service")}
NO_ACCOUNT = "Unable to resolve AWS account to use"
NO_STACK = "No stack found"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# Values for the workflows' `${{ … }}` expressions; an expression not listed here fails the test.
SAMPLES = {
    "matrix.env": "dev",
    "vars.CDK_CONTEXT": "api_allowed_cidrs=203.0.113.7/32",
    "vars.CDK_CONTEXT_PROD": f"certificate_arn={CERTIFICATE}",
    "github.event.pull_request.number": "42",
}


# What the documented commands expect the user to have exported.
DOCS_ENV = {"CERTIFICATE_ARN": CERTIFICATE}


def cli_env(home: Path) -> dict[str, str]:
    """The machine's environment without any AWS identity: what a new user without credentials has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_DEFAULT_"))}
    return {
        **env,
        "HOME": str(home),
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env['PATH']}",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata credential probing
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "npm_config_update_notifier": "false",
    }


def expand(text: str, where: str) -> str:
    def sample(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in SAMPLES, f"{where}: no sample value for ${{{{ {expression} }}}}"
        return SAMPLES[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", sample, str(text))


# The workflows call the one definition of the deploy steps; what each step runs of the CDK CLI.
DEPLOY_STEPS = re.compile(r"scripts/deploy_steps\.sh (diff|deploy|destroy)\b")
STEP_COMMANDS = {"diff": "npx cdk diff", "deploy": "npx cdk deploy --all", "destroy": "npx cdk destroy --all --force"}


def workflow_steps() -> list[tuple[str, str, dict[str, str]]]:
    """(id, run script, env) of every workflow step that calls `npx cdk`, directly or through
    scripts/deploy_steps.sh."""
    steps = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                run = step.get("run", "")
                if "npx cdk" not in run and not DEPLOY_STEPS.search(run):
                    continue
                where = f"{path.name}:{job_name}:{step.get('name', '?')}"
                env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                env = {k: expand(v, where) for k, v in env.items()}
                steps.append((where, expand(run, where), env))
    return steps


# What a checkout holds that the CLI writes or locks: each test's command runs in a tree of its own that links
# everything else, so that tests run side by side (pytest-xdist) without sharing cdk.out or its synth lock.
PER_RUN = {"cdk.out", "cdk.context.json", ".local", ".pytest_cache", ".git"}


def workspace(tmp_path: Path) -> Path:
    """A checkout for one command: the repository's files and folders as symlinks, cdk.out its own, and a cdk.json
    whose app is cdk.json's own behind tests/support/cached_app.py (one synth per distinct context in a run)."""
    tree = tmp_path / "checkout"
    tree.mkdir(exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name not in PER_RUN | {"cdk.json"} and not (tree / entry.name).exists():
            (tree / entry.name).symlink_to(entry)
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    (tree / "cdk.json").write_text(json.dumps(cdk_json | {"app": CACHED_APP}))
    return tree


CACHED_APP = ".venv/bin/python tests/support/cached_app.py"


@pytest.fixture(scope="session", autouse=True)
def synth_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder cached_app.py keeps assemblies in, one for all test workers of this run."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "synth-cache"
    os.environ[CACHE_ENV] = str(folder)
    yield folder
    os.environ.pop(CACHE_ENV, None)


@pytest.fixture(scope="session", autouse=True)
def synth_server(synth_cache: Path) -> Iterator[Path]:
    """This worker's warm synth server (tests/support/synth_server.py), which cached_app.py's misses go to."""
    folder = Path(tempfile.mkdtemp(prefix="synth-"))  # a short path: a socket's is at most 107 bytes
    socket_path = folder / "socket"
    server = subprocess.Popen([sys.executable, "tests/support/synth_server.py", str(socket_path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not socket_path.exists():
            assert server.poll() is None and time.monotonic() < deadline, "the synth server did not start"
            time.sleep(0.1)
        os.environ[SERVER_ENV] = str(socket_path)
        yield socket_path
    finally:
        os.environ.pop(SERVER_ENV, None)
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def assembly_files(outdir: Path) -> dict[str, bytes]:
    """Every file of an assembly but the CLI's locks and the run's own timings; the creation stacks in the
    metadata name the jsii kernel's temporary folder, which differs between any two processes."""
    skip = {"performance-counters.json"}
    return {
        str(path.relative_to(outdir)): re.sub(rb"jsii-kernel-\w+", b"jsii-kernel-*", path.read_bytes())
        for path in sorted(outdir.rglob("*"))
        if path.is_file() and path.name not in skip and not path.name.endswith(".lock")
    }


@pytest.mark.parametrize(
    "values",
    [{"api_allowed_cidrs": "203.0.113.7/32"}, {"min_acu": "0.7"}],
    ids=["README's deploy line", "a refused value"],
)
def test_the_warm_synth_server_gives_the_cli_what_a_cold_app_gives_it(
    values: dict[str, str], synth_server: Path, tmp_path: Path
) -> None:
    # The context the CLI hands the app for the line: its defaults, cdk.json's context, the line's -c values.
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    cli_defaults = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],
    }
    context = cdk_json["context"] | cli_defaults | values
    base = {k: v for k, v in cli_env(tmp_path).items() if k != SERVER_ENV} | {"CDK_CONTEXT_JSON": json.dumps(context)}
    results = {}
    for how, server in (("cold", {}), ("warm", {SERVER_ENV: str(synth_server)})):
        outdir = tmp_path / how
        ran = run_app(cdk_json["app"], base | {"CDK_OUTDIR": str(outdir)} | server)
        results[how] = (ran.returncode, ran.stdout, ran.stderr, assembly_files(outdir) if outdir.exists() else {})
    (cold_code, cold_out, cold_err, cold), (warm_code, warm_out, warm_err, warm) = results["cold"], results["warm"]
    assert (warm_code, warm_out, warm_err) == (cold_code, cold_out, cold_err)
    assert sorted(warm) == sorted(cold)
    assert [name for name in cold if warm[name] != cold[name]] == []
    if "min_acu" in values:  # the refusal: one line, nothing written
        assert cold_code != 0 and cold_err.count("letta-aurora-cdk: ") == 1, cold_err
        assert not any(name.endswith(".template.json") for name in cold)
    else:
        assert cold_code == 0 and any(name.endswith(".template.json") for name in cold)


def run_bash(script: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=workspace(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def check_outcome(command: str, result: subprocess.CompletedProcess[str]) -> None:
    """What each subcommand must do without an AWS account."""
    out = result.stdout + result.stderr
    words = shlex.split(command.split("npx cdk ", 1)[1])
    subcommand = words[0]
    assert "Traceback" not in out, out
    assert NO_STACK not in out, f"{command}: selected no stack\n{out}"
    if subcommand in ("list", "ls"):
        assert result.returncode == 0, out
        env = next((w.split("=", 1)[1] for w in words if w.startswith("env=")), "dev")
        assert all(f"letta-{env}-{part}" in out for part in ("data", "reader", "service")), out
    elif subcommand in ("deploy", "destroy", "diff", "bootstrap"):
        assert result.returncode != 0, out
        assert NO_ACCOUNT in out, f"{command}: did not get as far as the account\n{out}"
        if subcommand == "destroy" and "--all" in words:
            # All three stacks selected, the service first: it stops at the first one for want of an account.
            assert "letta-" in out and "-service: destroying... [1/3]" in out, out
    else:
        pytest.fail(f"{command}: no expectation for `cdk {subcommand}`; add one here")


def test_the_commands_are_found() -> None:
    readme = [c.line for c in commands_starting("npx cdk ") if c.page == "README.md"]
    assert any(c.startswith("npx cdk deploy --all") for c in readme), readme
    assert any(c.startswith("npx cdk destroy --all") for c in readme), readme
    assert {c.page for c in commands_starting("npx cdk ")} > {"README.md"}, "docs/ pages' commands are found too"
    assert len(workflow_steps()) >= 5


@pytest.mark.parametrize("command", commands_starting("npx cdk "), ids=str)
def test_a_documented_cdk_command_line_gets_as_far_as_no_account_allows(command: CommandLine, tmp_path: Path) -> None:
    result = run_bash(command.line, {**cli_env(tmp_path), **DOCS_ENV}, tmp_path)
    check_outcome(command.line, result)


@pytest.mark.parametrize("step", workflow_steps(), ids=lambda s: s[0])
def test_a_workflow_cdk_step_gets_as_far_as_no_account_allows(
    step: tuple[str, str, dict[str, Any]], tmp_path: Path
) -> None:
    _, script, env = step
    result = run_bash(script, {**cli_env(tmp_path), **env}, tmp_path)
    step = DEPLOY_STEPS.search(script)
    (command,) = (
        [STEP_COMMANDS[step.group(1)]] if step else [ln.strip() for ln in script.splitlines() if "npx cdk" in ln]
    )
    check_outcome(command, result)


def test_cdk_list_names_the_three_stacks_of_each_environment(tmp_path: Path) -> None:
    result = run_bash("npx cdk list -c env=pr-7", cli_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["letta-pr-7-data", "letta-pr-7-reader", "letta-pr-7-service"]


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("nag", r"^letta-aurora-cdk: AwsSolutions AwsSolutions-S1 at letta-dev-data/UnloggedBucket/Resource: "),
        ("validation", r"^letta-aurora-cdk: CloudFormation Validate F3034 at letta-dev-data/OutOfRangeQueue: "),
    ],
)
def test_synth_through_the_cli_stops_on_a_finding_with_one_line_each(
    problem: str, expected: str, tmp_path: Path
) -> None:
    env = {**cli_env(tmp_path), "LETTA_TEST_PROBLEM": problem}
    app = f"{CACHED_APP} tests/support/app_with_problem.py"  # a failed synth is never cached: the app runs
    result = run_bash(f"npx cdk synth -q --app '{app}' -o {tmp_path / 'out'}", env, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Successfully synthesized" not in result.stdout + result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("letta-aurora-cdk: ")]
    assert ours and re.match(expected, ours[0]), result.stderr
    # Besides our lines, only the CLI's own note that the app failed.
    others = [line for line in result.stderr.splitlines() if line.strip() and line not in ours]
    assert len(others) <= 1 and "exited with error" in " ".join(others), result.stderr


def test_synth_through_the_cli_refuses_a_bad_value_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_bash(f"npx cdk synth -c min_acu=0.7 -o {out}", cli_env(tmp_path), tmp_path)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("letta-aurora-cdk: ")]
    assert len(ours) == 1 and "min_acu" in ours[0] and "0.7" in ours[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.rglob("*.template.json"))

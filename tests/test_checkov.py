"""checkov (pinned in requirements-scan.txt, its own venv .venv-scan) on the synthesized templates of both
profiles, with and without a certificate: no failed check. A finding we accept is skipped in the resource's
Metadata with the reason cdk-nag's acknowledgment carries (stacks/nag.py), so a team that runs checkov in its own
pipeline reads the same reason; a skip without a reason fails here too."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.composition import compose
from tests.cdk_app import CDK_JSON_CONTEXT, CERTIFICATE, CLI_CONTEXT, ROOT, synthesize, synthesized

CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"
VARIANTS: dict[str, dict[str, Any]] = {
    "dev": {"profile": "dev"},
    "dev-certificate": {"profile": "dev", "certificate_arn": CERTIFICATE},
    "prod-plain-http": {"profile": "prod", "allow_plain_http": True},
    "prod-certificate": {"profile": "prod", "certificate_arn": CERTIFICATE},
    # The account's CI roles stack (stacks/ci_roles/), scanned like the environments.
    "ci-roles": {"ci_roles": True, "github_repo": "acme/letta-aurora-cdk"},
}


def checkov(*args: str) -> list[dict[str, Any]]:
    if not CHECKOV.is_file():
        pytest.fail(
            "checkov is not installed: bash scripts/setup.sh (it creates .venv-scan from requirements-scan.txt)"
        )
    result = subprocess.run(
        [str(CHECKOV), *args, "--framework", "cloudformation", "--skip-download", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Exit 1 means "failed checks", which the assertions below report by name; anything else is a broken run.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def templates(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if overrides.get("ci_roles"):
        app = cdk.App(context={**CLI_CONTEXT, **CDK_JSON_CONTEXT, **overrides})
        compose(app, nag=False)
        return {s.stack_name: s.template for s in app.synth().stacks}
    return synthesized(**overrides).templates()


@cache
def scanned(root: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Every variant's two templates under `root`, scanned in one checkov run: (failed, skipped) by variant."""
    for name, overrides in VARIANTS.items():
        folder = Path(root) / name
        folder.mkdir(parents=True)
        for stack_name, template in templates(overrides).items():
            (folder / f"{stack_name}.template.json").write_text(json.dumps(template))
    failed: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    skipped: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for report in checkov("-d", root):
        for kind, into in (("failed_checks", failed), ("skipped_checks", skipped)):
            for check in report.get("results", {}).get(kind, []):
                into[check["file_path"].strip("/").split("/")[0]].append(check)
    return failed, skipped


@pytest.fixture(scope="module", name="results")
def results_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return scanned(str(tmp_path_factory.mktemp("checkov")))


@pytest.mark.parametrize("variant", VARIANTS)
def test_checkov_fails_nothing(variant: str, results: tuple[dict[str, Any], dict[str, Any]]) -> None:
    failed, _ = results
    assert [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed[variant]] == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_skip_carries_its_reason(variant: str, results: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, skipped = results
    assert skipped[variant], "the scan saw no skip at all: did it read the templates?"
    short = [
        f"{c['check_id']} {c['resource']}"
        for c in skipped[variant]
        if len(c["check_result"].get("suppress_comment") or "") < 40
    ]
    assert short == []


def test_checkov_reports_a_finding_once_its_reason_is_gone(tmp_path: Path) -> None:
    # The same dev data template with its checkov skips stripped: the findings come back, so the runs above
    # pass because of the reasons, not because checkov saw nothing.
    template = synthesize({"profile": "dev"}).templates()["letta-dev-data"]
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    (tmp_path / "stripped.template.json").write_text(json.dumps(template))
    failed = {c["check_id"] for report in checkov("-d", str(tmp_path)) for c in report["results"]["failed_checks"]}
    assert {"CKV_AWS_158", "CKV_AWS_149", "CKV_AWS_162"} <= failed
    # Telemetry is on: enhanced monitoring passes without any skip.
    assert "CKV_AWS_118" not in failed

"""docs/restore.md's commands, as far as no AWS account allows: each `npx cdk deploy` line synthesized by the pinned
CLI with exactly its `-c` keys (the restore of both kinds), and every `aws` line a command line of known services."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.test_user_commands import cli_env

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.cli
PAGE = (ROOT / "docs" / "restore.md").read_text()
LINES = [
    line.strip()
    for block in re.findall(r"```bash\n(.*?)```", PAGE, flags=re.DOTALL)
    for line in block.splitlines()
    if line.strip()
]
DEPLOYS = [line for line in LINES if line.startswith("npx cdk deploy")]


def test_the_runbook_shows_both_kinds_and_every_step() -> None:
    assert len(DEPLOYS) == 2
    assert any("restore_snapshot=" in line for line in DEPLOYS)
    assert any("restore_time=" in line for line in DEPLOYS)
    for needle in ("describe-db-cluster-snapshots", "LatestRestorableTime", "smoke_test.py", "inspect_db.py"):
        assert needle in PAGE
    for line in LINES:
        words = shlex.split(line)
        assert words[0] in ("aws", "npx", "python"), line
        if words[0] == "aws":
            assert words[1] in ("rds", "cloudformation"), line


@pytest.mark.parametrize("line", DEPLOYS, ids=["snapshot", "point-in-time"])
def test_each_deploy_line_synthesizes_with_the_pinned_cli(line: str) -> None:
    words = shlex.split(line)
    assert words[:4] == ["npx", "cdk", "deploy", "--all"]
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["npx", "cdk", "synth", "--quiet", "-o", out, *words[4:]],
            cwd=ROOT,
            env=cli_env(Path(home)),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        template = json.loads((Path(out) / "letta-prod2-data.template.json").read_text())
    (cluster,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"]
    assert cluster["DBClusterIdentifier"] == "letta-prod2"
    assert ("SnapshotIdentifier" in cluster) != ("SourceDBClusterIdentifier" in cluster)
    copies = [r for r in template["Resources"].values() if r["Type"] == "Custom::RestoredSecrets"]
    assert len(copies) == 1

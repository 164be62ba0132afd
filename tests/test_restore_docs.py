"""docs/restore.md's commands: the page shows both kinds of restore and every step, and each `npx cdk deploy` line's
`-c` keys synthesize the restore it promises. The lines themselves run with the pinned CLI in
tests/test_user_commands.py, the `aws` and script lines are checked in tests/test_docs.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cdk_app import synthesized

ROOT = Path(__file__).resolve().parents[1]
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
        assert words[0] in ("aws", "npx", ".venv/bin/python"), line
        if words[0] == "aws":
            assert words[1] in ("rds", "cloudformation"), line


@pytest.mark.parametrize("line", DEPLOYS, ids=["snapshot", "point-in-time"])
def test_each_deploy_lines_context_synthesizes_the_restore(line: str) -> None:
    words = shlex.split(line)
    assert words[:4] == ["npx", "cdk", "deploy", "--all"]
    context = dict(words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "-c")
    template = synthesized(**context).templates()["letta-prod2-data"]
    (cluster,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"]
    assert cluster["DBClusterIdentifier"] == "letta-prod2"
    assert ("SnapshotIdentifier" in cluster) != ("SourceDBClusterIdentifier" in cluster)
    copies = [r for r in template["Resources"].values() if r["Type"] == "Custom::RestoredSecrets"]
    assert len(copies) == 1

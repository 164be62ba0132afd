"""A refused value through the user's real commands: `npx cdk synth -c ...` (the pinned CLI) and a direct
`python app.py`. Non-zero exit, the one line on stderr, no traceback, nothing synthesized."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Every test here runs the pinned CDK CLI or app.py as a process: tens of seconds each.
pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    ("min_acus=2", "config 'min_acus' = '2' is not allowed: not a config key; did you mean 'min_acu'?"),
    ("env=pr--42", "config 'env' = 'pr--42' is not allowed:"),
    (
        "llm_secret_arn=arn:aws:secretsmanager:us-east-1:123456789012:secret:letta-llm",
        "config 'llm_secret_arn' = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:letta-llm' is not allowed:",
    ),
    ("api_allowed_cidrs=0.0.0.0/1,128.0.0.0/1", "config 'api_allowed_cidrs' = '0.0.0.0/1,128.0.0.0/1' is not"),
]


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON")}
    return {**env, "CDK_DISABLE_CLI_TELEMETRY": "true", "CDK_OUTDIR": str(tmp_path / "cdk.out")}


@pytest.mark.parametrize(("pair", "line"), CASES, ids=[pair.split("=")[0] for pair, _ in CASES])
def test_cdk_synth_refuses_in_one_line(pair: str, line: str, tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        ["npx", "cdk", "synth", "--output", str(out), "-c", pair],
        cwd=ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode != 0
    assert line in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not list(out.glob("*.template.json"))


@pytest.mark.parametrize(
    ("context", "line"),
    [
        ({"min_acus": "2"}, "did you mean 'min_acu'?"),
        ({"env": "dev\n"}, "config 'env' = 'dev\\n' is not allowed:"),
    ],
)
def test_python_app_py_refuses_in_one_line(context: dict[str, str], line: str, tmp_path: Path) -> None:
    cdk_json = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {**_environment(tmp_path), "CDK_CONTEXT_JSON": json.dumps({**cdk_json, **context})}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    lines = [entry for entry in result.stderr.splitlines() if entry.strip() and not entry.startswith("b'!!")]
    assert any(line in entry for entry in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdk.out").exists() or not list((tmp_path / "cdk.out").glob("*.template.json"))

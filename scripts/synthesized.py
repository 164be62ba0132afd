"""A profile's templates synthesized in-process, as scripts/setup.sh's `npx cdk synth -c env=<profile>` writes them
into cdk.out/<profile>, and the CloudWatch dashboard body read back out of a template. For the scripts that
generate docs from the templates (idle_cost.py, dashboard_png.py) and their staleness tests."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@cache
def synthesize(profile: str) -> dict[str, dict[str, Any]]:
    """The profile's three templates by stack name (prod with allow_plain_http, as setup.sh passes it); one synth per
    profile and process (callers only read them)."""
    # jsii spawns `node`: the pinned Node 22 of node_modules first, as `npx cdk` would.
    os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    import aws_cdk as cdk

    from stacks.composition import compose

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # What the CLI adds by default, then the profile.
    context |= {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True, "env": profile}
    if profile == "prod":
        context["allow_plain_http"] = True
    app = cdk.App(context=context)
    stacks = compose(app, nag=False)
    names = {stack.stack_name for stack in stacks.all}  # type: ignore[union-attr]
    return {s.stack_name: s.template for s in app.synth().stacks_recursively if s.stack_name in names}


def dashboard_body(template: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The template's one dashboard body as JSON, each CloudFormation token in it replaced by `@@<n>@@`, and the
    tokens (the n-th is `tokens[n]`)."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, str):
        return json.loads(body), []
    separator, parts = body["Fn::Join"]
    tokens: list[Any] = []
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += separator + part if text else part
        else:
            text += f"{separator}@@{len(tokens)}@@"
            tokens.append(part)
    return json.loads(text), tokens

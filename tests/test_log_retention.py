"""Every retention the config allows becomes exactly that many days in the template."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS
from stacks.log_retention import retention


def test_every_allowed_retention_synthesizes_as_that_many_days() -> None:
    stack = cdk.Stack(cdk.App(), "Probe")
    for days in LOG_RETENTION_DAYS:
        logs.LogGroup(stack, f"Days{days}", retention=retention(days))
    found = assertions.Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert sorted(r["Properties"]["RetentionInDays"] for r in found.values()) == sorted(LOG_RETENTION_DAYS)
    for logical_id, resource in found.items():
        assert logical_id.startswith(f"Days{resource['Properties']['RetentionInDays']}")

"""CloudWatch Logs retention from a number of days."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS

# RetentionDays lists the finite periods in the same ascending order as LOG_RETENTION_DAYS.
_BY_DAYS = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays)[: len(LOG_RETENTION_DAYS)], strict=True))


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for `days` (one of config.LOG_RETENTION_DAYS)."""
    return _BY_DAYS[days]

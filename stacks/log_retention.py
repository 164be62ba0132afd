"""CloudWatch Logs retention from a number of days."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS

# checkov CKV_AWS_158 on every log group of the stacks.
LOG_ENCRYPTION_REASON = (
    "CloudWatch Logs encrypts every log group at rest with a key of its own; a customer key would add a key "
    "policy for the logs service and a monthly key charge and protect nothing more: the container's supervisor "
    "masks the secrets before a line reaches the log, and the Lambdas and RDS log no secret."
)

R = logs.RetentionDays
# By value, not by position: aws-cdk-lib's Python enum carries member names, so each period is spelled out
# next to the number of days it stands for (tests check the synthesized RetentionInDays for every one).
_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: R.ONE_DAY,
    3: R.THREE_DAYS,
    5: R.FIVE_DAYS,
    7: R.ONE_WEEK,
    14: R.TWO_WEEKS,
    30: R.ONE_MONTH,
    60: R.TWO_MONTHS,
    90: R.THREE_MONTHS,
    120: R.FOUR_MONTHS,
    150: R.FIVE_MONTHS,
    180: R.SIX_MONTHS,
    365: R.ONE_YEAR,
    400: R.THIRTEEN_MONTHS,
    545: R.EIGHTEEN_MONTHS,
    731: R.TWO_YEARS,
    1096: R.THREE_YEARS,
    1827: R.FIVE_YEARS,
    2192: R.SIX_YEARS,
    2557: R.SEVEN_YEARS,
    2922: R.EIGHT_YEARS,
    3288: R.NINE_YEARS,
    3653: R.TEN_YEARS,
}
assert set(_BY_DAYS) == set(LOG_RETENTION_DAYS), "config.LOG_RETENTION_DAYS and this table must list the same days"


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for `days` (one of config.LOG_RETENTION_DAYS)."""
    return _BY_DAYS[days]

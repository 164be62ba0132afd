"""app.py with one deliberate problem, for proving through the pinned CLI that synth stops on it.

LETTA_TEST_PROBLEM picks it: `nag` adds an S3 bucket cdk-nag's AWS Solutions rules reject (no access logs,
no TLS-only policy); `validation` adds a queue whose DelaySeconds CloudFormation's schema refuses (0..900).
Everything else is app.py: the same composition and the same synth gate.
"""

import os
import sys

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from stacks.composition import compose
from stacks.synth_gate import synthesize_or_explain


def build(app: cdk.App) -> None:
    stacks = compose(app)
    if os.environ["LETTA_TEST_PROBLEM"] == "nag":
        s3.Bucket(stacks.data, "UnloggedBucket")
    else:
        cdk.CfnResource(stacks.data, "OutOfRangeQueue", type="AWS::SQS::Queue", properties={"DelaySeconds": 9999})


sys.exit(synthesize_or_explain(cdk.App(), build))

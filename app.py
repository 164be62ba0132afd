#!/usr/bin/env python3
"""CDK entry point: the configured environment's Stage, checked by cdk-nag on every synth."""

import aws_cdk as cdk

from stacks.stage import compose

app = cdk.App()
compose(app)
app.synth()

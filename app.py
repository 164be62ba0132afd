#!/usr/bin/env python3
"""CDK entry point: the configured environment's two stacks (or its pipeline), checked on every synth.

A bad config value, an unacknowledged cdk-nag finding or a CDK template-validation error ends the synth
with a non-zero exit and one line per problem (see stacks/synth_gate.py), never a traceback.
"""

import sys

import aws_cdk as cdk

from stacks.composition import compose
from stacks.synth_gate import synthesize_or_explain

sys.exit(synthesize_or_explain(cdk.App(), compose))

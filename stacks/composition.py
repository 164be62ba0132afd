"""What app.py builds: the configured environment's two top-level stacks, or with `pipeline=true` the
pipeline stack that deploys the same stacks in a Stage. cdk-nag checks whatever is built."""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import LettaConfig
from stacks.pipeline.stack import PipelineStack
from stacks.stage import LettaStacks, add_letta_stacks


def compose(app: App, *, nag: bool = True) -> LettaStacks | PipelineStack:
    """Builds the environment the app's context describes into `app`. With `nag`, synth fails on any
    unacknowledged AwsSolutions finding."""
    config = LettaConfig.from_app(app)
    # Region only, never an account: synth stays credential-free (no AZ lookups).
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(region=region) if region else None
    built: LettaStacks | PipelineStack
    if config.pipeline:
        built = PipelineStack(app, f"{config.stage_name}-pipeline", config=config, env=env)
    else:
        built = add_letta_stacks(app, config=config, env=env, top_level=True)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return built

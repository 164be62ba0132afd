"""What app.py builds: the configured environment's three top-level stacks, or with `pipeline=true` the
pipeline stack that deploys the same stacks in a Stage, or with `ci_roles=true` the account's CI roles stack.
cdk-nag checks whatever is built."""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from stacks.ci_roles.names import STACK_NAME as CI_ROLES_STACK
from stacks.ci_roles.stack import CiRolesStack
from stacks.config import LettaConfig
from stacks.pipeline.stack import PipelineStack
from stacks.stage import LettaStacks, add_letta_stacks


def compose(app: App, *, nag: bool = True) -> LettaStacks | PipelineStack | CiRolesStack:
    """Builds the environment the app's context describes into `app`. With `nag`, synth fails on any
    unacknowledged AwsSolutions finding."""
    config = LettaConfig.from_app(app)
    # Region only, never an account: synth stays credential-free (no AZ lookups).
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(region=region) if region else None
    built: LettaStacks | PipelineStack | CiRolesStack
    if config.ci_roles:
        assert config.github_repo  # the config requires it
        built = CiRolesStack(
            app,
            CI_ROLES_STACK,
            repo=config.github_repo,
            oidc_provider_arn=config.github_oidc_provider_arn,
            description="GitHub Actions OIDC roles for letta-aurora-cdk: one per job's need (docs/ci.md)",
            env=env,
        )
    elif config.pipeline:
        built = PipelineStack(app, f"{config.stage_name}-pipeline", config=config, env=env)
    else:
        built = add_letta_stacks(app, config=config, env=env, top_level=True)
        if config.permissions_boundary:
            # Previews: every role the stacks create stays inside the boundary their bootstrap's roles carry.
            for stack in built.all:
                boundary = iam.ManagedPolicy.from_managed_policy_name(stack, "Boundary", config.permissions_boundary)
                iam.PermissionsBoundary.of(stack).apply(boundary)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return built

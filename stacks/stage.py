"""One deployable unit per environment: what `cdk deploy --all` and a CI pipeline both deploy."""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Stage, Tags, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data_stack import DataStack
from stacks.service_stack import ServiceStack


class LettaStage(Stage):
    """The data stack (stateful) and, beside it, the service stack (stateless) for one environment."""

    def __init__(self, scope: Construct, *, config: LettaConfig, env: Environment | None = None) -> None:
        super().__init__(scope, config.stage_name, env=env)
        self.config = config
        self.data = DataStack(
            self,
            "Data",
            stack_name=f"{config.stage_name}-data",
            description=f"Letta on Aurora ({config.env}, {config.profile}): network and database",
            config=config,
        )
        self.service = ServiceStack(
            self,
            "Service",
            stack_name=f"{config.stage_name}-service",
            description=f"Letta on Aurora ({config.env}, {config.profile}): the Letta API on ECS Fargate",
            config=config,
            data=self.data,
        )
        Tags.of(self).add("letta:env", config.env)
        Tags.of(self).add("letta:profile", config.profile)


def compose(app: App, *, nag: bool = True) -> Construct:
    """Builds the configured environment into `app`: its Stage, or with `pipeline=true` the pipeline stack
    that deploys that Stage. With `nag`, synth fails on any unacknowledged AwsSolutions finding."""
    from stacks.pipeline_stack import PipelineStack  # the pipeline module imports this one

    config = LettaConfig.from_app(app)
    # Region only, never an account: synth stays credential-free (no AZ lookups).
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(region=region) if region else None
    built: Construct
    if config.pipeline:
        built = PipelineStack(app, f"{config.stage_name}-pipeline", config=config, env=env)
    else:
        built = LettaStage(app, config=config, env=env)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return built

"""One environment's two stacks: top-level in the app (what `cdk deploy --all` selects), or inside a
Stage for CDK Pipelines. Both paths build the same stacks with the same names."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data.stack import DataStack
from stacks.service.stack import ServiceStack


@dataclass(frozen=True)
class LettaStacks:
    """The data stack (stateful) and the service stack (stateless) of one environment."""

    data: DataStack
    service: ServiceStack


def add_letta_stacks(
    scope: Construct, *, config: LettaConfig, env: Environment | None = None, top_level: bool
) -> LettaStacks:
    """Adds the environment's data and service stacks to `scope` (an App, or a Stage when not `top_level`).

    Top-level stacks carry their CloudFormation name as construct id, so `cdk list` prints
    `letta-<env>-data` and `letta-<env>-service` and `--all` selects both.
    """
    names = {part: f"{config.stage_name}-{part}" for part in ("data", "service")}
    ids = names if top_level else {"data": "Data", "service": "Service"}
    label = f"Letta on Aurora ({config.env}, {config.profile})"
    data = DataStack(
        scope,
        ids["data"],
        stack_name=names["data"],
        description=f"{label}: network, database and every secret whose loss loses something",
        config=config,
        env=env,
    )
    service = ServiceStack(
        scope,
        ids["service"],
        stack_name=names["service"],
        description=f"{label}: the Letta API on ECS Fargate (stateless)",
        config=config,
        data=data.exports,
        env=env,
    )
    for stack in (data, service):
        Tags.of(stack).add("letta:env", config.env)
        Tags.of(stack).add("letta:profile", config.profile)
    return LettaStacks(data=data, service=service)


class LettaStage(Stage):
    """The same two stacks inside a Stage, for CDK Pipelines (`pipelines.CodePipeline.add_stage`)."""

    def __init__(self, scope: Construct, *, config: LettaConfig, env: Environment | None = None) -> None:
        super().__init__(scope, config.stage_name, env=env)
        self.stacks = add_letta_stacks(self, config=config, top_level=False)

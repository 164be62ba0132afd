"""One environment's three stacks: top-level in the app (what `cdk deploy --all` selects), or inside a
Stage for CDK Pipelines. Both paths build the same stacks with the same names."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data.stack import DataStack
from stacks.reader.stack import ReaderStack
from stacks.service.stack import ServiceStack


@dataclass(frozen=True)
class LettaStacks:
    """The data stack (stateful), the service stack (stateless) and the reader stack (Aurora's readers, which
    depend on the data stack alone and deploy beside the service) of one environment."""

    data: DataStack
    service: ServiceStack
    reader: ReaderStack

    @property
    def all(self) -> tuple[DataStack, ServiceStack, ReaderStack]:
        return (self.data, self.service, self.reader)


def add_letta_stacks(
    scope: Construct, *, config: LettaConfig, env: Environment | None = None, top_level: bool
) -> LettaStacks:
    """Adds the environment's data, service and reader stacks to `scope` (an App, or a Stage when not `top_level`).

    Top-level stacks carry their CloudFormation name as construct id, so `cdk list` prints
    `letta-<env>-data`, `letta-<env>-reader` and `letta-<env>-service` and `--all` selects all three.
    """
    names = {part: f"{config.stage_name}-{part}" for part in ("data", "service", "reader")}
    ids = names if top_level else {"data": "Data", "service": "Service", "reader": "Reader"}
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
    reader = ReaderStack(
        scope,
        ids["reader"],
        stack_name=names["reader"],
        description=f"{label}: Aurora's readers (failover targets), deployed beside the service stack",
        config=config,
        membership=data.database.membership,
        env=env,
    )
    stacks = LettaStacks(data=data, service=service, reader=reader)
    for stack in stacks.all:
        Tags.of(stack).add("letta:env", config.env)
        Tags.of(stack).add("letta:profile", config.profile)
    return stacks


class LettaStage(Stage):
    """The same three stacks inside a Stage, for CDK Pipelines (`pipelines.CodePipeline.add_stage`)."""

    def __init__(self, scope: Construct, *, config: LettaConfig, env: Environment | None = None) -> None:
        super().__init__(scope, config.stage_name, env=env)
        self.stacks = add_letta_stacks(self, config=config, top_level=False)

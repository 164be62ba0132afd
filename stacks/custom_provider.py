"""The Provider framework as both custom resources here (the pgvector bootstrap, the restored secrets' copy) deploy
it: the framework's own function with a role and a log group of the stack's, never CDK's defaults."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct


def owned_provider(scope: Construct, *, handler: lambda_.IFunction, log_retention: logs.RetentionDays) -> cr.Provider:
    """A Provider in `scope` (ids ProviderLogs, ProviderRole, Provider) for `handler`. Without a role of ours CDK
    attaches AWSLambdaBasicExecutionRole, which writes to every log group of the account; the framework adds
    lambda:InvokeFunction on the handler itself."""
    provider_logs = logs.LogGroup(scope, "ProviderLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
    provider_role = iam.Role(scope, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    provider_logs.grant_write(provider_role)
    return cr.Provider(
        scope, "Provider", on_event_handler=handler, log_group=provider_logs, framework_on_event_role=provider_role
    )

"""Accepted findings, each with its reason written once: cdk-nag 3.x acknowledgments and checkov skips.

cdk-nag reads its acknowledgments from the construct tree; checkov (which many teams run on the synthesized
templates in their own pipelines) reads `Metadata: {checkov: {skip: [{id, comment}]}}` on each resource. One
call records both from the same reason, so a scanner never sees a finding without the reason it is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# The resource types each checkov check (3.3.x, framework cloudformation) applies to: a skip goes on those
# resources below the construct it is given for, and nowhere else. An id missing here is a KeyError, on purpose.
CHECKOV_TYPES: dict[str, frozenset[str]] = {
    "CKV_AWS_2": frozenset({"AWS::ElasticLoadBalancingV2::Listener"}),
    "CKV_AWS_103": frozenset({"AWS::ElasticLoadBalancingV2::Listener"}),
    "CKV_AWS_18": frozenset({"AWS::S3::Bucket"}),
    "CKV_AWS_21": frozenset({"AWS::S3::Bucket"}),
    "CKV_AWS_26": frozenset({"AWS::SNS::Topic"}),
    "CKV_AWS_30": frozenset({"AWS::ElastiCache::ReplicationGroup"}),
    "CKV_AWS_31": frozenset({"AWS::ElastiCache::ReplicationGroup"}),
    "CKV_AWS_109": frozenset({"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}),
    "CKV_AWS_111": frozenset({"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}),
    "CKV_AWS_91": frozenset({"AWS::ElasticLoadBalancingV2::LoadBalancer"}),
    "CKV_AWS_115": frozenset({"AWS::Lambda::Function"}),
    "CKV_AWS_116": frozenset({"AWS::Lambda::Function"}),
    "CKV_AWS_117": frozenset({"AWS::Lambda::Function"}),
    "CKV_AWS_173": frozenset({"AWS::Lambda::Function"}),
    "CKV_AWS_118": frozenset({"AWS::RDS::DBInstance"}),
    "CKV_AWS_136": frozenset({"AWS::ECR::Repository"}),
    "CKV_AWS_149": frozenset({"AWS::SecretsManager::Secret"}),
    "CKV_AWS_158": frozenset({"AWS::Logs::LogGroup"}),
    "CKV_AWS_162": frozenset({"AWS::RDS::DBCluster"}),
}

# checkov CKV_AWS_115/116/117 on the custom resources' Lambdas (this bootstrap's, the image copy's).
CUSTOM_RESOURCE_LAMBDA_REASON = (
    "A custom resource's Lambda, invoked only by CloudFormation during a deploy: a failure goes back to "
    "CloudFormation as the resource's FAILED reason, so a dead-letter queue would hold nothing anyone reads; one "
    "deploy at a time calls it, so reserved concurrency limits nothing; and it runs outside the VPC by design "
    "(the Data API and ECR need no network path into the VPC, and a VPC Lambda's ENIs hold up `cdk destroy`)."
)


def acknowledge(construct: IConstruct, rule_id: str, reason: str, *, checkov: Iterable[str] = ()) -> None:
    """Accept one AwsSolutions finding on `construct` (and its children) for a stated reason; the same reason
    becomes the checkov skip of each check in `checkov` (checkov's id for the same finding)."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
    skip_checkov(construct, checkov, reason)


def skip_checkov(construct: IConstruct, check_ids: Iterable[str], reason: str) -> list[str]:
    """Record a checkov skip with `reason` on every resource below `construct` (itself included) that the
    check applies to; for findings only checkov reports. Returns the paths of the resources skipped."""
    skipped = []
    for check_id in check_ids:
        types = CHECKOV_TYPES[check_id]
        for node in construct.node.find_all():
            if not isinstance(node, CfnResource) or node.cfn_resource_type not in types:
                continue
            current = node.get_metadata("checkov") or {}
            skips = [s for s in current.get("skip", []) if s["id"] != check_id]
            node.add_metadata("checkov", {"skip": [*skips, {"id": check_id, "comment": reason}]})
            skipped.append(node.node.path)
    return skipped


def acknowledge_generated(scope: IConstruct, rule_prefix: str, reason: str, *, under: str = "") -> list[str]:
    """Accept every `rule_prefix` finding cdk-nag reports below `scope` (and below the path `under`, if given).

    For constructs a library generates whole, such as CDK Pipelines' CodeBuild roles: cdk-nag 3 matches
    exact finding ids, and those ids spell out generated logical ids and regions. Returns the ids accepted.
    """
    from cdk_nag import AwsSolutionsChecks

    accepted = []
    root = scope.node.path
    for violation in AwsSolutionsChecks().validate_scope(scope).violations:
        if not violation.rule_name.startswith(rule_prefix):
            continue
        for resource in violation.violating_resources:
            path = resource.construct_path
            if not path.startswith(f"{root}/{under}"):
                continue
            target = scope.node.find_child(path[len(root) + 1 :].split("/")[0])
            for part in path[len(root) + 1 :].split("/")[1:]:
                target = target.node.find_child(part)
            acknowledge(target, violation.rule_name, reason)
            accepted.append(violation.rule_name)
    return accepted

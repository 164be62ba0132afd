"""cdk-nag 3.x acknowledgments: every finding we accept is recorded on the construct it is about."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one AwsSolutions finding on `construct` (and its children) for a stated reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


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

"""cdk-nag 3.x acknowledgments: every finding we accept is recorded on the construct it is about."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one AwsSolutions finding on `construct` (and its children) for a stated reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))

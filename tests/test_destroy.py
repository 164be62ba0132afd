"""`cdk destroy` leaves nothing behind: every resource of both stacks, both profiles, is walked."""

from __future__ import annotations

import pytest

from tests.cdk_app import profile_context, synthesized

# What each profile promises on destroy for the one resource that holds data.
CLUSTER_POLICY = {"dev": "Delete", "prod": "Snapshot"}


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_resource_is_deleted_except_prods_final_snapshot(profile: str) -> None:
    for name, template in synthesized(**profile_context(profile)).templates().items():
        for logical_id, resource in template["Resources"].items():
            policy = resource.get("DeletionPolicy", "Delete")
            expected = CLUSTER_POLICY[profile] if resource["Type"] == "AWS::RDS::DBCluster" else "Delete"
            assert policy == expected, f"{name}/{logical_id} ({resource['Type']}): {policy}"
            assert resource.get("UpdateReplacePolicy", expected) == expected, f"{name}/{logical_id}"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_log_group_is_a_stack_resource_with_retention(profile: str) -> None:
    for name, template in synthesized(**profile_context(profile)).templates().items():
        resources = template["Resources"]
        # The legacy LogRetention custom resource means a log group created outside the stack.
        assert not [r for r in resources.values() if r["Type"] == "Custom::LogRetention"], name
        log_groups = {k for k, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
        for logical_id in log_groups:
            assert "RetentionInDays" in resources[logical_id]["Properties"], f"{name}/{logical_id}"
        # A function without an explicit log group gets /aws/lambda/<name>, created by Lambda and kept forever.
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::Lambda::Function":
                group = resource["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
                assert group.get("Ref") in log_groups, f"{name}/{logical_id} logs outside the stack"


def test_no_lambda_sits_in_the_vpc() -> None:
    # VPC Lambdas leave ENIs that make CloudFormation wait many minutes on destroy.
    for name, template in synthesized().templates().items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Lambda::Function":
                assert "VpcConfig" not in resource["Properties"], f"{name}/{logical_id}"


def test_prod_data_stack_needs_two_explicit_steps_before_it_can_go() -> None:
    synth = synthesized(profile="prod", allow_plain_http=True)
    assert synth.stack("Data").termination_protection is True
    cluster = next(
        r for r in synth.templates()["letta-dev-data"]["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"
    )
    assert cluster["Properties"]["DeletionProtection"] is True

"""`cdk destroy` leaves nothing behind in dev and keeps the data in prod: every resource of both stacks, both
profiles, is walked."""

from __future__ import annotations

import json

import pytest

from tests.cdk_app import profile_context, synthesized

# What each profile promises on destroy for what holds data: the cluster, and the data stack's secrets (the
# logins, the connection string, the encryption key Letta's stored secrets need, the keys clients hold).
KEPT = {
    "dev": {"AWS::RDS::DBCluster": "Delete", "AWS::SecretsManager::Secret": "Delete"},
    # Prod also keeps the load balancer's access logs (their bucket; the bucket policy goes with the stack).
    "prod": {"AWS::RDS::DBCluster": "Snapshot", "AWS::SecretsManager::Secret": "Retain", "AWS::S3::Bucket": "Retain"},
}


def test_destroy_all_removes_the_service_and_reader_stacks_before_the_data_stack() -> None:
    # The CLI destroys a stack only after every stack that depends on it: both import from the data stack alone.
    stacks = synthesized(**profile_context("prod")).stacks
    assert stacks.data.dependencies == []
    for stack in (stacks.service, stacks.reader):
        assert [d.stack_name for d in stack.dependencies] == [stacks.data.stack_name], stack.stack_name
    reader = synthesized(**profile_context("prod")).template("Reader").to_json()["Resources"]
    [instance] = [r for r in reader.values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert (instance["DeletionPolicy"], instance["UpdateReplacePolicy"]) == ("Delete", "Delete")


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_resource_is_deleted_except_what_prod_keeps(profile: str) -> None:
    templates = synthesized(**profile_context(profile)).templates()
    kept = []
    for name, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            policy = resource.get("DeletionPolicy", "Delete")
            expected = KEPT[profile].get(resource["Type"], "Delete")
            assert policy == expected, f"{name}/{logical_id} ({resource['Type']}): {policy}"
            # The same on replacement: an update that replaced the cluster or a secret keeps the old one in prod.
            assert resource.get("UpdateReplacePolicy", expected) == expected, f"{name}/{logical_id}"
            kept += [logical_id] if policy != "Delete" else []
    # Every secret is the data stack's: the service stack holds nothing whose loss loses anything.
    service = templates["letta-dev-service"]["Resources"].values()
    assert not [r for r in service if r["Type"] == "AWS::SecretsManager::Secret"]
    # Prod: the cluster, app login, URI, password, key, LLM keys, and the access-log bucket.
    assert len(kept) == (0 if profile == "dev" else 7)


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


def test_the_image_mirror_goes_with_its_images() -> None:
    # The copies can be made again: the repository is deleted with its images in both profiles.
    for profile in ("dev", "prod"):
        data = synthesized(profile=profile, allow_plain_http=True).templates()["letta-dev-data"]["Resources"]
        [repository] = [r for r in data.values() if r["Type"] == "AWS::ECR::Repository"]
        assert repository["DeletionPolicy"] == "Delete"
        assert repository["Properties"]["EmptyOnDelete"] is True


def test_prod_load_balancer_needs_an_explicit_step_before_it_can_go() -> None:
    for profile, protected in (("dev", "false"), ("prod", "true")):
        data = synthesized(profile=profile, allow_plain_http=True).templates()["letta-dev-data"]["Resources"]
        [balancer] = [r for r in data.values() if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
        attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
        assert attributes["deletion_protection.enabled"] == protected


def test_the_shared_redis_goes_with_the_stack_in_every_profile() -> None:
    # Locks, run ids and resumable streams outlive no task: nothing to keep, nothing to snapshot, prod included.
    data = synthesized(profile="prod", allow_plain_http=True).templates()["letta-dev-data"]["Resources"]
    cache = [r for r in data.values() if r["Type"].startswith("AWS::ElastiCache::")]
    assert {r["Type"] for r in cache} == {"AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::SubnetGroup"}
    for resource in cache:
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")
    [group] = [r for r in cache if r["Type"] == "AWS::ElastiCache::ReplicationGroup"]
    assert group["Properties"]["SnapshotRetentionLimit"] == 0 and "FinalSnapshotName" not in json.dumps(group)

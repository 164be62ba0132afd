"""Prod's load balancer: deletion protection on, access logs into an encrypted, TLS-only bucket that prod keeps
on destroy. cdk-nag's ELB2 (access logs) passes in prod on its own; only dev acknowledges it."""

from __future__ import annotations

import json
from typing import Any

from tests.cdk_app import only, resources, synthesized


def acknowledged(construct: Any) -> str:
    return " ".join(str(m.data) for m in construct.node.metadata if m.type == "aws:cdk:acknowledged-rules")


def balancer_attributes(profile: str) -> dict[str, Any]:
    # Created in the data stack beside the bucket (and Aurora), not after it in the service stack.
    data = synthesized(profile=profile, allow_plain_http=True).template("Data").to_json()
    balancer = only(data, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    return {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}


def test_prod_load_balancer_is_protected_and_logs_to_the_data_stacks_bucket() -> None:
    attributes = balancer_attributes("prod")
    assert attributes["deletion_protection.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.prefix"] == "alb"
    # The bucket of the same stack, whose policy exists first (ELB writes a test object when logging starts).
    assert "AccessLogsBucket" in attributes["access_logs.s3.bucket"]["Ref"]
    synth = synthesized(profile="prod", allow_plain_http=True)
    data = synth.template("Data").to_json()
    (balancer,) = resources(data, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert set(resources(data, "AWS::S3::BucketPolicy")) <= set(balancer["DependsOn"])
    assert "AwsSolutions-ELB2" not in acknowledged(synth.stacks.data.api.load_balancer)
    # With deletion_protection=false (the switch that also frees the cluster) the load balancer may go too.
    prod_unprotected = (
        synthesized(profile="prod", allow_plain_http=True, deletion_protection=False).template("Data").to_json()
    )
    unprotected = only(prod_unprotected, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert {"Key": "deletion_protection.enabled", "Value": "false"} in unprotected["LoadBalancerAttributes"]


def test_dev_has_no_access_log_bucket_and_says_why() -> None:
    synth = synthesized(profile="dev")
    assert not resources(synth.template("Data").to_json(), "AWS::S3::Bucket")
    assert "access_logs.s3.enabled" not in balancer_attributes("dev")
    assert "AwsSolutions-ELB2" in acknowledged(synth.stacks.data.api.load_balancer)


def test_the_bucket_is_encrypted_tls_only_private_expiring_and_kept() -> None:
    data = synthesized(profile="prod", allow_plain_http=True).template("Data").to_json()
    bucket_id, bucket = next(iter(resources(data, "AWS::S3::Bucket").items()))
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain" == bucket["UpdateReplacePolicy"]
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90  # log_retention_days
    statements = only(data, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    tls = [s for s in statements if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1 and tls[0]["Effect"] == "Deny" and tls[0]["Action"] == "s3:*"
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["DenyOtherEncryption"]["Effect"] == "Deny"
    assert by_sid["DenyOtherEncryption"]["Condition"]["StringNotEquals"] == {
        "s3:x-amz-server-side-encryption": "AES256"
    }
    # Log delivery writes below the prefix and this account's folder only.
    for sid in ("ElbLogDeliveryNewRegions", "ElbLogDeliveryLegacyRegions"):
        assert by_sid[sid]["Action"] == "s3:PutObject"
        assert "/alb/AWSLogs/" in json.dumps(by_sid[sid]["Resource"]) and bucket_id in json.dumps(by_sid[sid])
    assert by_sid["ElbLogDeliveryNewRegions"]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }


def test_the_legacy_elb_account_is_looked_up_at_deploy_time_so_synth_needs_no_region() -> None:
    from aws_cdk.region_info import RegionInfo

    data = synthesized(profile="prod", allow_plain_http=True).template("Data").to_json()
    (mapping,) = data["Mappings"].values()
    assert mapping["eu-west-1"] == {"account": RegionInfo.get("eu-west-1").elbv2_account}
    assert mapping["il-central-1"] == {"account": "none"}  # opened after August 2022: the service principal
    assert "AWS::Region" in json.dumps(data["Conditions"])

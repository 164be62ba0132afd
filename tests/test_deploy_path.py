"""scripts/deploy_path.py: the critical path of `cdk deploy --all` from the synthesized templates, and the figures in
docs/deploy-time.md that it generates (stale figures fail here)."""

from __future__ import annotations

from scripts import deploy_path
from scripts.synthesized import synthesize


def test_the_docs_figures_are_generated_from_the_templates() -> None:
    by_profile = {p: deploy_path.critical_path(synthesize(p)) for p in deploy_path.PROFILES}
    page = deploy_path.PAGE.read_text()
    assert deploy_path.render(page, by_profile) == page, "stale: run scripts/deploy_path.py --write"


def test_the_service_waits_for_the_whole_data_stack_and_the_floor_only_for_what_it_uses() -> None:
    prod = deploy_path.critical_path(synthesize("prod"))
    kinds = [step.split(" (")[1].split(",")[0] for step in prod["path"]]
    # The CLI's order: the data stack's longest chain (writer, then the reader CDK creates after it), then the
    # service stack's (load balancer, then the service).
    assert kinds.count("AWS::RDS::DBInstance") == 2
    assert kinds.index("AWS::ElasticLoadBalancingV2::LoadBalancer") > kinds.index("AWS::RDS::DBInstance")
    assert prod["floor"] < prod["minutes"]
    dev = deploy_path.critical_path(synthesize("dev"))
    # The floor still waits for the bootstrap: it writes the URI into the secret the service reads.
    assert any("Custom::PgvectorBootstrap" in step for step in dev["floor_path"])
    assert any("AWS::ECS::Service" in step for step in dev["floor_path"])
    assert dev["floor"] < dev["minutes"] < prod["minutes"]


def test_references_are_read_from_every_intrinsic() -> None:
    value = {"A": {"Ref": "X"}, "B": {"Fn::GetAtt": ["Y", "Arn"]}, "C": {"Fn::Sub": "${Z.Name}-${AWS::Region}"}}
    assert set(deploy_path._references(value)) == {"X", "Y", "Z"}
    assert all(source for _, source in deploy_path.CREATE_MINUTES.values())

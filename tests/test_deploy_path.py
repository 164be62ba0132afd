"""scripts/deploy_path.py: the critical path of `cdk deploy --all` from the synthesized templates, and the figures in
docs/deploy-time.md that it generates (stale figures fail here)."""

from __future__ import annotations

from scripts import deploy_path
from scripts.synthesized import synthesize


def test_the_docs_figures_are_generated_from_the_templates() -> None:
    by_profile = {p: deploy_path.figures(synthesize(p)) for p in deploy_path.PROFILES}
    page = deploy_path.PAGE.read_text()
    assert deploy_path.render(page, by_profile) == page, "stale: run scripts/deploy_path.py --write"


def test_each_profile_deploys_within_a_minute_of_its_floor() -> None:
    for profile in deploy_path.PROFILES:
        result = deploy_path.figures(synthesize(profile))
        assert result["concurrency"] == deploy_path.concurrency_of_deploy_steps() > 1
        assert result["minutes"] - result["floor"] <= 1.0, (profile, result["minutes"], result["floor"])
        # On paper today, both are at their floor.
        assert result["minutes"] == result["floor"], (profile, result["minutes"], result["floor"])
        # Nothing slow that needs no database waits for it: the load balancer starts beside Aurora.
        assert not [step for step in result["path"] if "LoadBalancer," in step], result["path"]
        # One stack at a time (README's plain `cdk deploy --all`), prod's reader waits for the service stack.
        assert result["serial"] >= result["minutes"]
    prod = deploy_path.critical_path(synthesize("prod"), concurrency=3)
    # The reader (created after the writer, as Aurora makes the first instance the writer) is prod's longest chain.
    kinds = [step.split(" (")[1].split(",")[0] for step in prod["floor_path"]]
    assert kinds.count("AWS::RDS::DBInstance") == 2
    dev = deploy_path.critical_path(synthesize("dev"))
    # The floor still waits for the bootstrap: it writes the URI into the secret the service reads.
    assert any("Custom::PgvectorBootstrap" in step for step in dev["floor_path"])


def test_the_cli_starts_a_stack_once_its_dependencies_are_done_and_a_slot_is_free() -> None:
    after = {"data": set(), "reader": {"data"}, "service": {"data"}}
    lengths = {"data": 13.0, "reader": 8.0, "service": 6.0}
    finished, waited = deploy_path._schedule(lengths, after, concurrency=1)
    assert finished == {"data": 13.0, "reader": 21.0, "service": 27.0}
    finished, waited = deploy_path._schedule(lengths, after, concurrency=3)
    assert finished == {"data": 13.0, "reader": 21.0, "service": 19.0}
    assert waited == {"data": None, "reader": "data", "service": "data"}


def test_references_are_read_from_every_intrinsic() -> None:
    value = {"A": {"Ref": "X"}, "B": {"Fn::GetAtt": ["Y", "Arn"]}, "C": {"Fn::Sub": "${Z.Name}-${AWS::Region}"}}
    assert set(deploy_path._references(value)) == {"X", "Y", "Z"}
    assert all(source for _, source in deploy_path.CREATE_MINUTES.values())

"""scripts/idle_cost.py: the idle monthly cost per resource, read from the synthesized templates, and the tables in
docs/configuration.md that it generates (stale tables fail here, as the config table does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import idle_cost
from tests.cdk_app import profile_context, synthesized


def templates(profile: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    return synthesized(**profile_context(profile), **overrides).templates()


def by_what(profile: str, **overrides: Any) -> dict[str, float]:
    return {what: usd for what, _, usd in idle_cost.grouped(idle_cost.lines(templates(profile, **overrides)))}


def test_the_docs_tables_are_generated_from_the_templates() -> None:
    # The same synth as `--write` (env=<profile>; prod with allow_plain_http, as scripts/setup.sh runs it).
    by_profile = {p: idle_cost.lines(idle_cost.synthesize(p)) for p in idle_cost.PROFILES}
    page = idle_cost.PAGE.read_text()
    assert idle_cost.render(page, by_profile) == page, "stale idle-cost tables: run scripts/idle_cost.py --write"


def test_dev_idles_at_or_below_sixty_dollars_a_month() -> None:
    found = idle_cost.lines(templates("dev"))
    assert idle_cost.total(found) <= 60, idle_cost.profile_table(found)


def test_the_levers_move_the_figures_they_should() -> None:
    dev, on_demand = by_what("dev"), by_what("dev", capacity_provider="on-demand")
    spot_task = next(v for k, v in dev.items() if k.startswith("Fargate Spot task"))
    task = next(v for k, v in on_demand.items() if k.startswith("Fargate task"))
    # 1 vCPU / 2 GB arm64 on-demand: 730 h x (0.03238 + 2 x 0.00356); Spot at 30% of it.
    assert task == pytest.approx(730 * (0.03238 + 2 * 0.00356))
    assert spot_task == pytest.approx(0.3 * task)
    awake = idle_cost.total(idle_cost.lines(templates("dev", min_acu=0.5)))
    assert awake - idle_cost.total(idle_cost.lines(templates("dev"))) == pytest.approx(730 * 0.5 * 0.12)
    # prod: two I/O-Optimized instances at 0.5 ACU, two NAT gateways with their addresses.
    prod = idle_cost.lines(templates("prod"))
    aurora = [line for line in prod if line.what.startswith("Aurora")]
    assert len(aurora) == 2 and sum(a.monthly for a in aurora) == pytest.approx(2 * 730 * 0.5 * 0.156)
    assert sum(line.count for line in prod if line.what.startswith("NAT gateway")) == 2


def test_every_resource_type_is_priced_or_known_to_be_free() -> None:
    for profile in idle_cost.PROFILES:
        for template in templates(profile).values():
            for resource in template["Resources"].values():
                kind = resource["Type"]
                assert kind in idle_cost._PRICERS or kind in idle_cost.FREE_TYPES or kind.startswith("Custom::"), kind
    # A type nobody has priced stops the script rather than costing $0 unnoticed.
    unknown = {"letta-dev-data": {"Resources": {"Box": {"Type": "AWS::EC2::Instance", "Properties": {}}}}}
    with pytest.raises(idle_cost.IdleCostError, match="AWS::EC2::Instance"):
        idle_cost.lines(unknown)


def test_every_price_names_its_source() -> None:
    assert all(price.source.startswith("https://aws.amazon.com/") for price in idle_cost.PRICES.values())
    assert idle_cost.REGION == "us-east-1" and idle_cost.PRICES_READ


def test_the_command_reads_a_synthesized_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, template in templates("dev").items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
    assert idle_cost.main(["dev", "--cdk-out", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["region"] == "us-east-1"
    assert sum(line["monthly"] for line in printed["lines"]) == pytest.approx(
        idle_cost.total(idle_cost.lines(templates("dev")))
    )
    assert idle_cost.main(["dev", "--cdk-out", str(tmp_path / "missing")]) == 2
    assert "run `bash scripts/setup.sh` first" in capsys.readouterr().err

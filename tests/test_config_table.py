"""docs/configuration.md's config table is generated from the model; a stale table fails here."""

from __future__ import annotations

from scripts import config_table


def test_the_config_table_is_generated_from_the_model() -> None:
    page = config_table.PAGE.read_text()
    assert config_table.render(page) == page, "the config table is stale: run scripts/config_table.py"


def test_table_has_one_row_per_key() -> None:
    from stacks.config import CONFIG_KEYS

    rows = config_table.table().splitlines()[2:]
    assert [row.split("|")[1].strip(" `") for row in rows] == list(CONFIG_KEYS)

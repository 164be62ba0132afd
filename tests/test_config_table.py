"""README's config table is generated from the model; a stale table fails here."""

from __future__ import annotations

from scripts import config_table


def test_readme_config_table_is_generated_from_the_model() -> None:
    readme = config_table.README.read_text()
    assert config_table.render(readme) == readme, "README.md's config table is stale: run scripts/config_table.py"


def test_table_has_one_row_per_key() -> None:
    from stacks.config import CONFIG_KEYS

    rows = config_table.table().splitlines()[2:]
    assert [row.split("|")[1].strip(" `") for row in rows] == list(CONFIG_KEYS)

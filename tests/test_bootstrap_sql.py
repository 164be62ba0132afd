"""The SQL files and their handling without a database: loading, hashing, rendering, quoting, splitting."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacks.pgsql.bootstrap import plan
from stacks.pgsql.errors import BootstrapError
from stacks.pgsql.sql_files import (
    SqlFile,
    files_from_properties,
    load_sql_files,
    sql_hash,
)
from stacks.pgsql.sql_text import (
    quote_ident,
    quote_literal,
    render,
    split_statements,
    validate_identifier,
)
from tests.postgres_server import SQL_DIR

HOSTILE_IDENTIFIERS = [
    'letta"; DROP DATABASE letta; --',
    "letta'; DROP ROLE postgres; --",
    "Letta",
    "1letta",
    "letta-app",
    "letta app",
    "letta;",
    "lettä",
    "a" * 64,
    "",
    "letta\x00",
    "${database}",
    "letta\n",
]


# -- files -------------------------------------------------------------------------------------


def test_repository_files_are_ordered_and_use_only_known_placeholders() -> None:
    files = load_sql_files(SQL_DIR)
    assert [f.name for f in files] == ["001_vector_extension.sql", "002_app_role.sql"]
    rendered = [render(f.text, app_role="letta_app", database="letta") for f in files]
    assert all("${" not in text for text in rendered)
    assert "CREATE EXTENSION IF NOT EXISTS vector" in rendered[0]
    assert 'GRANT CONNECT ON DATABASE "letta" TO "letta_app"' in rendered[1]
    assert 'GRANT USAGE, CREATE ON SCHEMA public TO "letta_app"' in rendered[1]
    assert "WHERE rolname = 'letta_app'" in rendered[1]


def test_repository_files_split_into_the_expected_statements() -> None:
    statements = plan(load_sql_files(SQL_DIR), app_role="letta_app", database="letta")
    assert [(s.file, s.index, s.count) for s in statements] == [
        ("001_vector_extension.sql", 1, 1),
        ("002_app_role.sql", 1, 3),
        ("002_app_role.sql", 2, 3),
        ("002_app_role.sql", 3, 3),
    ]
    # Comments are not sent: each statement is the code alone.
    assert statements[0].sql == "CREATE EXTENSION IF NOT EXISTS vector"
    assert statements[2].sql == 'GRANT CONNECT ON DATABASE "letta" TO "letta_app"'
    assert statements[3].sql == 'GRANT USAGE, CREATE ON SCHEMA public TO "letta_app"'
    do_block = statements[1].sql
    assert do_block.startswith("DO $$") and do_block.endswith("$$")
    assert 'CREATE ROLE "letta_app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;' in do_block
    # Nothing in the files needs more than Aurora's master user (rds_superuser) has.
    assert not any(word in s.sql.upper() for s in statements for word in ("SUPERUSER;", "ALTER SYSTEM", "OWNER TO"))


def test_load_sql_files_sorts_by_name_and_takes_only_sql(tmp_path: Path) -> None:
    (tmp_path / "010_b.sql").write_text("SELECT 2;")
    (tmp_path / "002_a.sql").write_text("SELECT 1;")
    (tmp_path / "notes.txt").write_text("not SQL")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "000_c.sql").write_text("SELECT 3;")
    assert load_sql_files(tmp_path) == [SqlFile("002_a.sql", "SELECT 1;"), SqlFile("010_b.sql", "SELECT 2;")]


def test_sql_hash_changes_with_any_name_text_or_order() -> None:
    a, b = SqlFile("001.sql", "SELECT 1;"), SqlFile("002.sql", "SELECT 2;")
    base = sql_hash([a, b])
    assert len(base) == 64 and base == sql_hash([SqlFile("001.sql", "SELECT 1;"), b])
    assert sql_hash([a, SqlFile("002.sql", "SELECT 2; ")]) != base
    assert sql_hash([a, SqlFile("003.sql", "SELECT 2;")]) != base
    assert sql_hash([b, a]) != base
    assert sql_hash([a]) != base
    # Framing: moving text across the name/text boundary changes the hash.
    assert sql_hash([SqlFile("a", "bc")]) != sql_hash([SqlFile("ab", "c")])


def test_files_from_properties_round_trip_and_sort() -> None:
    items = [{"name": "002.sql", "sql": "SELECT 2;"}, {"name": "001.sql", "sql": "SELECT 1;"}]
    files = files_from_properties(items)
    assert [f.name for f in files] == ["001.sql", "002.sql"]
    assert sql_hash(files) == sql_hash(sorted(files, key=lambda f: f.name))


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"name": "001.sql"}], "string 'name' and 'sql'"),
        (["001.sql"], "string 'name' and 'sql'"),
        ([{"name": "001.txt", "sql": ""}], "ending in .sql"),
        ([{"name": "../001.sql", "sql": ""}], "ending in .sql"),
        ([{"name": "001.sql", "sql": "a"}, {"name": "001.sql", "sql": "b"}], "repeat: 001.sql"),
    ],
)
def test_files_from_properties_rejects_malformed_items(items: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        files_from_properties(items)


# -- quoting and rendering ---------------------------------------------------------------------


def test_quote_ident_and_literal_double_their_quote() -> None:
    assert quote_ident("letta") == '"letta"'
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("letta") == "'letta'"
    assert quote_literal("it's") == "'it''s'"


def test_render_fills_every_placeholder() -> None:
    create = "CREATE ROLE ${app_role}; -- ${app_role_literal}\n"
    text = create + "GRANT CONNECT ON DATABASE ${database} TO ${app_role};"
    assert render(text, app_role="letta_app", database="letta") == (
        'CREATE ROLE "letta_app"; -- \'letta_app\'\nGRANT CONNECT ON DATABASE "letta" TO "letta_app";'
    )


@pytest.mark.parametrize("hostile", HOSTILE_IDENTIFIERS)
@pytest.mark.parametrize("field", ["app_role", "database"])
def test_render_rejects_hostile_identifiers(field: str, hostile: str) -> None:
    values = {"app_role": "letta_app", "database": "letta", field: hostile}
    with pytest.raises(ValueError) as error:
        render("SELECT ${app_role}, ${database};", **values)
    assert repr(hostile) in str(error.value)
    assert ("app role" if field == "app_role" else "database") in str(error.value)


@pytest.mark.parametrize("hostile", HOSTILE_IDENTIFIERS)
def test_validate_identifier_rejects_hostile_values(hostile: str) -> None:
    with pytest.raises(ValueError, match="is not a plain identifier"):
        validate_identifier(hostile, what="role")


@pytest.mark.parametrize("good", ["letta", "letta_app", "_x", "a" * 63, "app2"])
def test_validate_identifier_accepts_plain_names(good: str) -> None:
    assert validate_identifier(good) == good


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT ${password};", r"unknown placeholder \$\{password\} at line 1"),
        ("SELECT 1;\nSELECT ${App_Role};", r"unknown placeholder \$\{App_Role\} at line 2"),
        ("SELECT ${};", r"unknown placeholder \$\{\}"),
        ("SELECT ${app_role;", "malformed placeholder at line 1"),
        ("SELECT ${ app_role };", "malformed placeholder"),
    ],
)
def test_render_rejects_unknown_or_malformed_placeholders(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(text, app_role="letta_app", database="letta")


def test_plan_names_the_file_with_a_bad_placeholder() -> None:
    files = [SqlFile("001_ok.sql", "SELECT 1;"), SqlFile("002_bad.sql", "SELECT ${nope};")]
    with pytest.raises(BootstrapError, match=r"002_bad\.sql: unknown placeholder"):
        plan(files, app_role="letta_app", database="letta")


# -- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 'a;b''c;'; SELECT 2", ["SELECT 'a;b''c;'", "SELECT 2"]),
        ("SELECT E'it\\'s; fine'; SELECT 2", ["SELECT E'it\\'s; fine'", "SELECT 2"]),
        # Without the E prefix a backslash is an ordinary character (standard_conforming_strings).
        ("SELECT 'C:\\'; SELECT 2", ["SELECT 'C:\\'", "SELECT 2"]),
        ('SELECT 1 AS "a;""b"; SELECT 2', ['SELECT 1 AS "a;""b"', "SELECT 2"]),
        ("DO $$ BEGIN PERFORM 1; END $$; SELECT 2", ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"]),
        (
            "CREATE FUNCTION f() RETURNS text AS $body$ SELECT $$;'$$::text; $body$ LANGUAGE sql; SELECT 2",
            [
                "CREATE FUNCTION f() RETURNS text AS $body$ SELECT $$;'$$::text; $body$ LANGUAGE sql",
                "SELECT 2",
            ],
        ),
        ("SELECT $1; SELECT 2", ["SELECT $1", "SELECT 2"]),
        ("SELECT a$b$c FROM t; SELECT 2", ["SELECT a$b$c FROM t", "SELECT 2"]),
        ("-- a; b\nSELECT 1; -- trailing; comment", ["SELECT 1"]),
        ("SELECT 1 -- it's a comment\n+ 1", ["SELECT 1 \n+ 1"]),
        ("SELECT '--not a comment', \"/*nor this*/\"", ["SELECT '--not a comment', \"/*nor this*/\""]),
        (
            "DO $$ BEGIN -- kept: part of the body;\nEND $$",
            ["DO $$ BEGIN -- kept: part of the body;\nEND $$"],
        ),
        (
            "SELECT 1 /* c; /* nested; */ still; */ + 1; SELECT 2",
            ["SELECT 1   + 1", "SELECT 2"],
        ),
        (";; ;\n-- only a comment;\n/* and another; */", []),
        ("", []),
        ("SELECT 1;\n\n  ;SELECT 2;;", ["SELECT 1", "SELECT 2"]),
    ],
)
def test_split_statements(sql: str, expected: list[str]) -> None:
    assert split_statements(sql) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1;\nSELECT 'open;", "unterminated string from line 2"),
        ('SELECT "open;', "unterminated quoted identifier from line 1"),
        ("DO $$ BEGIN; END;", r"unterminated dollar-quoted text \$\$ from line 1"),
        ("SELECT 1; /* open /* nested */", "unterminated /\\* comment from line 1"),
    ],
)
def test_split_statements_rejects_unterminated_text(sql: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_statements(sql)


# Tokens as (text written, text expected back): comments come back as the whitespace they stand for.
_WORD = st.sampled_from(["SELECT", "x", "1", "now()", "+", "::text", "AS", "col"]).map(lambda w: (w, w))
_STRING = st.text(alphabet="ab;'-/*$ \n", max_size=12).map(lambda s: "'" + s.replace("'", "''") + "'")
_IDENT = st.text(alphabet='ab;"-/* ', max_size=8).map(lambda s: '"' + s.replace('"', '""') + '"')
_DOLLAR = st.tuples(st.sampled_from(["", "body", "x1"]), st.text(alphabet="ab;'\"-*/ \n", max_size=12)).map(
    lambda tag_body: f"${tag_body[0]}${tag_body[1]}${tag_body[0]}$"
)
_COMMENT = st.one_of(
    st.text(alphabet="ab;'\"$ ", max_size=10).map(lambda s: (f"-- {s}\n", "\n")),
    st.text(alphabet="ab;'\"$ \n", max_size=10).map(lambda s: (f"/* {s} */", " ")),
)
_TOKEN = st.one_of(_WORD, _STRING.map(lambda t: (t, t)), _IDENT.map(lambda t: (t, t)), _DOLLAR.map(lambda t: (t, t)))
_STATEMENT = st.lists(st.one_of(_TOKEN, _COMMENT), min_size=1, max_size=6).map(
    lambda tokens: (
        "SELECT " + " ".join(written for written, _ in tokens),
        ("SELECT " + " ".join(expected for _, expected in tokens)).strip(),
    )
)


@given(st.lists(_STATEMENT, max_size=5))
def test_split_statements_recovers_statements_holding_semicolons_in_quotes_and_comments(
    statements: list[tuple[str, str]],
) -> None:
    joined = ";\n".join(written for written, _ in statements) + ";"
    assert split_statements(joined) == [expected for _, expected in statements]

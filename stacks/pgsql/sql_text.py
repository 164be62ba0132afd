"""Filling in the SQL files' placeholders safely, and cutting a file into single statements.

Placeholders are ``${app_role}`` and ``${database}`` (identifiers, inserted double-quoted) and
``${app_role_literal}`` (the role name as a single-quoted string). Values must first pass
``validate_identifier``, so quoting is a second line of defence, not the only one.
"""

from __future__ import annotations

import re

IDENTIFIER_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
PLACEHOLDERS = ("app_role", "app_role_literal", "database")
_PLACEHOLDER = re.compile(r"\$\{([^{}$\s]*)\}")
# A dollar-quote tag follows the rules of an unquoted identifier, without `$`; `$1` is a parameter.
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def validate_identifier(value: str, *, what: str = "identifier") -> str:
    """Return ``value`` if it is a plain lowercase PostgreSQL identifier (at most 63 characters).

    Raises ValueError naming ``what`` and the value otherwise. Lowercase only, so that the quoted and
    unquoted spellings name the same object.
    """
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a plain identifier: lowercase letters, digits and _, "
            "not starting with a digit, at most 63 characters"
        )
    return value


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (embedded ``"`` doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal (embedded ``'`` doubled).

    Only for standard_conforming_strings = on (the default since PostgreSQL 9.1), where a backslash
    is an ordinary character.
    """
    return "'" + value.replace("'", "''") + "'"


def render(text: str, *, app_role: str, database: str) -> str:
    """Fill in the placeholders of one SQL file.

    Raises ValueError for an invalid identifier, an unknown placeholder or a ``${`` left unclosed.
    """
    validate_identifier(app_role, what="app role")
    validate_identifier(database, what="database")
    values = {
        "app_role": quote_ident(app_role),
        "app_role_literal": quote_literal(app_role),
        "database": quote_ident(database),
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(
                f"unknown placeholder ${{{name}}} at line {_line(text, match.start())}; "
                f"known: {', '.join('${' + p + '}' for p in PLACEHOLDERS)}"
            )
        return values[name]

    rendered = _PLACEHOLDER.sub(substitute, text)
    # Substituted values cannot contain "${" (they are validated identifiers), so any left is malformed.
    leftover = rendered.find("${")
    if leftover != -1:
        line = _line(rendered, leftover)
        raise ValueError(f"malformed placeholder at line {line}: '${{' without a name and a closing '}}'")
    return rendered


def split_statements(sql: str) -> list[str]:
    """Cut SQL text into single statements at each ``;`` that is code, not quoted or commented.

    Understands '...' strings (with E'...' backslash escapes), "..." identifiers, $$...$$ and
    $tag$...$tag$ bodies, -- line comments and nested /* */ comments. Comments outside quoted text
    are dropped (the server ignores them, and one-statement APIs need not parse them), as is the
    ``;``; statements left empty are dropped. Raises ValueError on an unterminated string,
    identifier, dollar quote or comment.
    """
    statements: list[str] = []
    pieces: list[str] = []  # the current statement's code, comments replaced by whitespace
    piece_start = 0
    i = 0
    n = len(sql)

    def finish(end: int) -> None:
        text = "".join(pieces) + sql[piece_start:end]
        if text.strip():
            statements.append(text.strip())
        pieces.clear()

    while i < n:
        char = sql[i]
        if sql.startswith("--", i) or sql.startswith("/*", i):
            pieces.append(sql[piece_start:i])
            if char == "-":
                newline = sql.find("\n", i)
                i = n if newline == -1 else newline + 1
                pieces.append("\n")
            else:
                i = _skip_block_comment(sql, i)
                pieces.append(" ")
            piece_start = i
        elif char == ";":
            finish(i)
            i += 1
            piece_start = i
        elif char == "'":
            i = _skip_quoted(sql, i, "'", backslash_escapes=_is_escape_string(sql, i))
        elif char == '"':
            i = _skip_quoted(sql, i, '"', backslash_escapes=False)
        elif char == "$" and not (i > 0 and _is_identifier_char(sql[i - 1])):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is None:
                i += 1
                continue
            end = sql.find(tag.group(0), tag.end())
            if end == -1:
                raise ValueError(f"unterminated dollar-quoted text {tag.group(0)} from line {_line(sql, i)}")
            i = end + len(tag.group(0))
        else:
            i += 1
    finish(n)
    return statements


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _is_escape_string(sql: str, quote: int) -> bool:
    # E'...' (or e'...'), where the E is a prefix and not the end of a longer word such as `type'`.
    return quote > 0 and sql[quote - 1] in "eE" and not (quote > 1 and _is_identifier_char(sql[quote - 2]))


def _skip_quoted(sql: str, start: int, quote: str, *, backslash_escapes: bool) -> int:
    """Index just past the quoted text opening at ``start``; a doubled quote stays inside."""
    i = start + 1
    while i < len(sql):
        if backslash_escapes and sql[i] == "\\":
            i += 2
            continue
        if sql[i] == quote:
            if sql.startswith(quote, i + 1):
                i += 2
                continue
            return i + 1
        i += 1
    kind = "string" if quote == "'" else "quoted identifier"
    raise ValueError(f"unterminated {kind} from line {_line(sql, start)}")


def _skip_block_comment(sql: str, start: int) -> int:
    """Index just past the /* */ comment opening at ``start``; PostgreSQL nests these."""
    depth = 0
    i = start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise ValueError(f"unterminated /* comment from line {_line(sql, start)}")

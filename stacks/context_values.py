"""CDK context values as the types the config declares. `-c key=value` always arrives as a string and
cdk.json as JSON; both are parsed here the same way (numbers, `true`/`false`, comma or JSON lists, JSON
objects) before the config model checks them."""

from __future__ import annotations

import json
import math
import re
import types
from typing import Any, Literal, Union, get_args, get_origin

from stacks.config_error import ConfigError

# An optional key given as one of these means "unset" (e.g. `-c certificate_arn=`).
NULLS = ("", "none", "null")


def parse(name: str, value: Any, annotation: Any, allowed: str) -> Any:
    """`value` of key `name`, declared as `annotation`, in that type where text or JSON allows it.
    `allowed` is what the refusal says when the text is not even of the right kind."""
    args = get_args(annotation)
    optional = get_origin(annotation) in (Union, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else annotation
    if isinstance(value, str):
        if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConfigError(name, value, "no surrounding spaces, newlines or control characters")
        if optional and value.lower() in NULLS:
            return None
        return _from_text(name, value, base, allowed)
    if isinstance(value, list) and get_origin(base) is tuple:
        return tuple(value)
    if isinstance(value, float) and value.is_integer() and _is_int(base):
        return int(value)
    return value


def _is_int(base: Any) -> bool:
    return base is int or (get_origin(base) is Literal and all(type(a) is int for a in get_args(base)))


def _from_text(name: str, text: str, base: Any, allowed: str) -> Any:
    if base is bool:
        if text.lower() not in ("true", "false"):
            raise ConfigError(name, text, "true or false")
        return text.lower() == "true"
    if _is_int(base):
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ConfigError(name, text, allowed)
        return int(text)
    if base is float:
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(name, text, allowed) from None
        if not math.isfinite(number):
            raise ConfigError(name, text, allowed)
        return number
    if get_origin(base) is tuple:
        return _list(name, text)
    if get_origin(base) is dict:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(name, text, 'a JSON object such as {"OPENAI_API_KEY": "OPENAI_API_KEY"}') from None
    return text


def _list(name: str, text: str) -> tuple[Any, ...]:
    """`a,b` or a JSON array."""
    if not text.startswith("["):
        return tuple(item.strip() for item in text.split(",") if item.strip())
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        items = None
    if not isinstance(items, list):
        raise ConfigError(name, text, "a JSON array or a comma-separated list")
    return tuple(items)

"""The one exception a refused config value raises, shared by the model and the context parsing."""

from __future__ import annotations


class ConfigError(ValueError):
    """A context value that cannot be deployed. `str()` is one line naming the key, the value and what is
    allowed; app.py prints exactly that."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = " ".join(allowed.split())
        super().__init__(f"config '{key}' = {value!r} is not allowed: {self.allowed}")

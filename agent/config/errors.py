"""Configuration errors that point at the exact place in the file.

A person fixing a gateway's config over SSH needs three things from an error:
where (``FILE:LINE:COL``, like a compiler, so editors can jump there), which
setting (the dotted key path), and what would be accepted.  :class:`ConfigIssue`
carries exactly that, and :func:`describe` turns pydantic's error types into
plain sentences about the YAML the person wrote.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One thing wrong with a configuration file.

    ``line`` and ``col`` are 1-based; both are ``None`` when the problem is the
    file as a whole (it is missing or unreadable).  ``key_path`` is empty when
    the problem is not about one setting (YAML syntax).
    """

    file: str
    line: int | None
    col: int | None
    key_path: str
    message: str
    allowed: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.col or 1}"
        what = f"{self.key_path}: {self.message}" if self.key_path else self.message
        return f"{where}: {what} ({self.allowed})" if self.allowed else f"{where}: {what}"


class ConfigError(Exception):
    """A configuration file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        if not issues:
            raise ValueError("ConfigError needs at least one issue")
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_BOUND_WORDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}

def describe(error: Mapping[str, Any]) -> str:
    """What is wrong, in words, for one entry of ``ValidationError.errors()``."""
    kind = str(error["type"])
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, got {show(value)}"
    if kind in _BOUND_WORDS:
        bound, words = _BOUND_WORDS[kind]
        return f"{words} {show(ctx.get(bound))}, got {show(value)}"
    return _describe_other(kind, value) or str(error.get("msg", kind))


def _describe_other(kind: str, value: Any) -> str:
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "finite_number":
        return f"must be a finite number, got {show(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"{show(value)} is not allowed here"
    if kind == "literal_error":
        return f"{show(value)} is not one of the allowed values"
    return ""  # our own validators' errors already read as sentences: use their message


def show(value: Any) -> str:
    """A value as the person wrote it in YAML, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    return str(value)

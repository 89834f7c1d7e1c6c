"""Read a configuration file into a validated :class:`Config`, or explain why not.

The file is parsed as YAML 1.2 by ruamel.yaml's round-trip loader, because that
loader remembers where every key and value stood in the text: when pydantic
rejects a value we can say ``FILE:LINE:COL`` of exactly that value.  YAML 1.2
also means ``on``/``off``/``yes``/``no`` are plain strings, never booleans, and
duplicate keys are an error instead of the last one silently winning.

The round-trip tree is first copied into plain Python data (so pydantic's strict
types see ``int``/``bool``/``str``, not ruamel's subclasses), recording the
position of every key and value on the way.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from agent.config.errors import ConfigError, ConfigIssue, describe
from agent.config.schema import Config, allowed_at, known_keys_at

Loc = tuple[Any, ...]
# A configuration has a few hundred values at most; this bounds alias expansion.
MAX_VALUES = 100_000


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column in the configuration text."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Spot:
    """Where one value sits: its key (``None`` for list items and the root) and its value."""

    key: Mark | None
    value: Mark
    in_list: bool


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, parse and validate the configuration file at ``path``; raise :class:`ConfigError`."""
    file = os.fspath(path)
    return parse_config(_read_text(file), file)


def parse_config(text: str, file: str = "<config>") -> Config:
    """Parse and validate configuration ``text``; ``file`` names it in error messages."""
    tree = _parse_yaml(text, file)
    if tree is None:
        empty = ConfigIssue(file, 1, 1, "", "the file is empty", "a mapping with at least a gateway section")
        raise ConfigError([empty])
    data, spots = _Flattener(file).run(tree)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_issue(file, error, spots) for error in exc.errors()]) from None


def _read_text(file: str) -> str:
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(file, None, None, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"byte 0x{raw[exc.start]:02x} is not valid UTF-8"
        raise ConfigError([ConfigIssue(file, line, col, "", message, "a UTF-8 text file")]) from None


def _parse_yaml(text: str, file: str) -> Any:
    _require_yaml_12(text, file)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        raise ConfigError([_duplicate_issue(text, file, exc)]) from None
    except MarkedYAMLError as exc:
        raise ConfigError([_syntax_issue(file, exc)]) from None
    except ReaderError as exc:
        mark = _mark_at_offset(text, exc.position)
        message = f"character {exc.character!r} is not allowed in YAML ({exc.reason})"
        raise ConfigError([ConfigIssue(file, mark.line, mark.col, "", message)]) from None
    except YAMLError as exc:
        raise ConfigError([ConfigIssue(file, None, None, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue(file, None, None, "", "invalid YAML: nested too deeply")]) from None


def _require_yaml_12(text: str, file: str) -> None:
    """Refuse a ``%YAML 1.1`` directive, which would turn ``on``/``off`` back into booleans."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---") or line.startswith("..."):
            return  # directives only come before the document starts
        words = line.split()
        if line.startswith("%YAML") and len(words) >= 2 and words[1] != "1.2":
            message = f"YAML version {words[1]} is not supported"
            raise ConfigError([ConfigIssue(file, number, 1, "", message, "YAML 1.2; remove the %YAML line")])


def _syntax_issue(file: str, exc: MarkedYAMLError) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "not valid YAML"
    message = problem
    if exc.context:
        context_mark = exc.context_mark
        where = ""
        if context_mark is not None and mark is not None and context_mark.line != mark.line:
            where = f" (line {context_mark.line + 1}, column {context_mark.column + 1})"
        message = f"{exc.context}{where}: {problem}"
    hint = "indent with spaces; YAML does not allow tabs" if "\\t" in problem else ""
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return ConfigIssue(file, line, col, "", f"invalid YAML: {message}", hint)


def _duplicate_issue(text: str, file: str, exc: DuplicateKeyError) -> ConfigIssue:
    mark = exc.problem_mark
    target = (mark.line, mark.column) if mark is not None else (-1, -1)
    found = _find_duplicate(YAML(typ="rt").compose(text), "", target)
    if found is None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return ConfigIssue(file, line, col, "", exc.problem or "duplicate key")
    key_path, second, first = found
    return ConfigIssue(
        file, second.line, second.col, key_path, f"duplicate key (first defined on line {first.line})",
        "each key once per mapping",
    )


def _find_duplicate(node: Node | None, path: str, target: tuple[int, int]) -> tuple[str, Mark, Mark] | None:
    """The duplicate key at ``target`` (0-based line, column): its path, its mark, the first's mark."""
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found = _find_duplicate(item, f"{path}[{index}]", target)
            if found:
                return found
    if not isinstance(node, MappingNode):
        return None
    first_seen: dict[str, Node] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else str(key)
        key_path = f"{path}.{name}" if path else name
        here = (key.start_mark.line, key.start_mark.column)
        if name in first_seen and here == target:
            return key_path, _node_mark(key), _node_mark(first_seen[name])
        first_seen.setdefault(name, key)
        found = _find_duplicate(value, key_path, target)
        if found:
            return found
    return None


def _node_mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _mark_at_offset(text: str, offset: int) -> Mark:
    line_start = text.rfind("\n", 0, offset) + 1
    return Mark(text.count("\n", 0, offset) + 1, offset - line_start + 1)


class _Flattener:
    """Copies ruamel's round-trip tree into plain data and records every position."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.spots: dict[Loc, Spot] = {}
        self._values = 0
        self._open: set[int] = set()  # containers being copied: an alias back to one is a cycle

    def run(self, tree: Any) -> tuple[Any, dict[Loc, Spot]]:
        root = _start_of(tree) or Mark(1, 1)
        self.spots[()] = Spot(None, root, in_list=False)
        return self._plain(tree, (), root), self.spots

    def _plain(self, node: Any, loc: Loc, mark: Mark) -> Any:
        self._values += 1
        if self._values > MAX_VALUES:
            self._fail(mark, "", f"the file holds more than {MAX_VALUES} values")
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in self._open:
                self._fail(mark, _dotted(loc), "an alias refers back to a mapping or list that contains it")
            self._open.add(id(node))
            copied = self._mapping(node, loc) if isinstance(node, CommentedMap) else self._sequence(node, loc)
            self._open.discard(id(node))
            return copied
        if isinstance(node, TaggedScalar):
            self._fail(mark, _dotted(loc), f"YAML tag {node.tag} is not supported", "a plain value without a tag")
        return _scalar(node)

    def _mapping(self, node: CommentedMap, loc: Loc) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        own = _start_of(node) or self.spots[loc].value
        for key, value in node.items():
            key_mark = _lc_mark(node.lc.key, key) or own  # keys merged in with << have no position
            if not _is_scalar(key):
                self._fail(key_mark, _dotted(loc), "a key must be a plain value, not a list or mapping")
            plain_key = _scalar(key)
            value_mark = key_mark if value is None else (_lc_mark(node.lc.value, key) or key_mark)
            here = (*loc, plain_key)
            self.spots[here] = Spot(key_mark, value_mark, in_list=False)
            out[plain_key] = self._plain(value, here, value_mark)
        return out

    def _sequence(self, node: CommentedSeq, loc: Loc) -> list[Any]:
        out: list[Any] = []
        own = _start_of(node) or self.spots[loc].value
        for index, item in enumerate(node):
            mark = _lc_mark(node.lc.item, index) or own
            here = (*loc, index)
            self.spots[here] = Spot(None, mark, in_list=True)
            out.append(self._plain(item, here, mark))
        return out

    def _fail(self, mark: Mark, key_path: str, message: str, allowed: str = "") -> NoReturn:
        raise ConfigError([ConfigIssue(self.file, mark.line, mark.col, key_path, message, allowed)])


def _dotted(loc: Loc) -> str:
    return ".".join(str(step) for step in loc)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _scalar(value: Any) -> Any:
    """ruamel's scalar subclasses as the plain types pydantic's strict mode expects."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, ScalarBoolean):  # an anchored true/false is an int subclass
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value  # dates and timestamps: the schema rejects them with a type error


def _start_of(node: Any) -> Mark | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return Mark(lc.line + 1, lc.col + 1)


def _lc_mark(lookup: Any, key: Any) -> Mark | None:
    try:
        line, col = lookup(key)
    except (KeyError, IndexError, TypeError):
        return None
    return Mark(line + 1, col + 1)


def _issue(file: str, error: Mapping[str, Any], spots: dict[Loc, Spot]) -> ConfigIssue:
    """One pydantic error as a :class:`ConfigIssue` at the place it is about."""
    loc: Loc = tuple(error["loc"])
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    if kind == "duplicate_name":  # reported on the list; point at the second use
        loc = (*loc, ctx["index"], "name")
    is_key = bool(loc) and loc[-1] == "[key]"
    about = loc[:-1] if is_key else loc
    mark = _mark_for(about, kind, is_key, spots)
    message = describe(error)
    if about not in spots and kind != "missing":
        message += "; the key is not set, so its default applies"
    allowed = allowed_at(loc)
    if kind == "extra_forbidden":
        known = known_keys_at(loc[:-1])
        message += _suggestion(str(loc[-1]), known)
        allowed = "known keys: " + ", ".join(known)
    elif is_key:
        message = "key " + message
    return ConfigIssue(file, mark.line, mark.col, _key_path(about, spots), message, allowed)


def _mark_for(loc: Loc, kind: str, is_key: bool, spots: dict[Loc, Spot]) -> Mark:
    spot = spots.get(loc)
    if kind == "missing" or spot is None:
        # Nothing was written here (a missing key, or a default a cross-field check
        # rejected): point at the mapping that should have held it.
        return _owner_mark(loc[:-1], spots)
    if kind == "extra_forbidden" or is_key:
        return spot.key or spot.value
    return spot.value


def _owner_mark(loc: Loc, spots: dict[Loc, Spot]) -> Mark:
    while loc not in spots:
        loc = loc[:-1]
    spot = spots[loc]
    return spot.key or spot.value


def _key_path(loc: Loc, spots: dict[Loc, Spot]) -> str:
    parts: list[str] = []
    for depth, step in enumerate(loc, start=1):
        spot = spots.get(loc[:depth])
        if spot is not None and spot.in_list:
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else str(step))
    return "".join(parts)


def _suggestion(unknown: str, known: list[str]) -> str:
    close = difflib.get_close_matches(unknown, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""

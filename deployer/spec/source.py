"""Safe YAML loading that remembers the line and column of every key and value.

PyYAML's own constructors lose positions, silently keep the last of duplicate keys, accept
non-string keys and build recursive structures from self-referencing anchors. This module
composes the node graph with the safe loader and converts it itself, so that every problem
can be reported at its place in the file and none of them ends in a traceback.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from deployer.diagnostics import Problem, Severity

JsonPath = tuple[str | int, ...]

MAX_VALUES = 10_000  # far above any real deploy file; stops alias bombs ("billion laughs")
# Every node visited while expanding aliases and merge keys (`<<`), the merged-away ones too:
# nested merges multiply (ten levels of `<<: [*x, *x, …]` would be 10^10 visits).
MAX_NODES = 100_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _TAG + "merge"
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_KIND_OF_TAG = {
    _TAG + "int": "an integer",
    _TAG + "float": "a number",
    _TAG + "bool": "a boolean",
    _TAG + "null": "null",
    _TAG + "timestamp": "a date",
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based position in a file: lines end at LF, columns count characters. `file` is
    empty in the deploy file itself, else the other file's name as shown (an az ml file)."""

    line: int
    column: int
    file: str = ""


class _Positions:
    """Character index → Mark. YAML also breaks lines at NEL, LS and PS (U+0085, U+2028,
    U+2029); editors and GitHub count LF only, so PyYAML's own line numbers are not used."""

    def __init__(self, text: str, file: str = "") -> None:
        self._file = file
        self._line_starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]

    def at(self, index: int) -> Mark:
        line = bisect.bisect_right(self._line_starts, index)
        return Mark(line, index - self._line_starts[line - 1] + 1, self._file)

    def of(self, node: Node) -> Mark:
        return self.at(node.start_mark.index)


FILE_START = Mark(1, 1)


@dataclass(frozen=True)
class Location:
    value: Mark
    key: Mark | None = None


@dataclass
class Document:
    """Plain data (dicts, lists, scalars) and where each part of it was written."""

    data: Any
    locations: dict[JsonPath, Location] = field(default_factory=dict)
    # The source text of every scalar, so that `3.10` can be taken as "3.10", not 3.1.
    scalar_text: dict[JsonPath, str] = field(default_factory=dict)

    def get(self, path: JsonPath, default: Any = None) -> Any:
        value = self.data
        for part in path:
            value = _child(value, part)
            if value is _MISSING:
                return default
        return value

    def value_mark(self, path: JsonPath) -> Mark:
        """Where the value at `path` was written, or its nearest written ancestor."""
        for length in range(len(path), -1, -1):
            location = self.locations.get(path[:length])
            if location is not None:
                return location.value
        return FILE_START

    def key_mark(self, path: JsonPath) -> Mark:
        """Where the key of the entry at `path` was written (its value's place for list items)."""
        location = self.locations.get(path)
        if location is not None and location.key is not None:
            return location.key
        return self.value_mark(path)

    def subdocument(self, prefix: JsonPath) -> Document:
        """The part of this document under `prefix`, re-rooted, keeping its positions."""
        size = len(prefix)
        return Document(
            data=self.get(prefix),
            locations={p[size:]: loc for p, loc in self.locations.items() if p[:size] == prefix},
            scalar_text={p[size:]: t for p, t in self.scalar_text.items() if p[:size] == prefix},
        )


_MISSING = object()


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, dict) and isinstance(part, str):
        return value.get(part, _MISSING)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return _MISSING


def render_path(path: JsonPath) -> str:
    """``deployment.inference_config.scoring_route.port``, ``rollout.canary_steps[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text or "the document"


@dataclass
class LoadResult:
    document: Document | None
    problems: list[Problem]


class _Fatal(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _error(mark: Mark, message: str) -> Problem:
    return Problem(mark.line, mark.column, Severity.ERROR, message, mark.file)


def load_document(raw: bytes, file: str = "") -> LoadResult:
    """Parse a YAML file (bytes as read from disk) into a located document, or say why not;
    `file`: its name as shown, for a file other than the deploy file."""
    first = Mark(1, 1, file)
    try:
        text = _decode(raw, first)
        positions = _Positions(text, file)
        root = _compose_single(text, positions, first)
        converter = _Converter(positions)
        data = converter.convert(root, (), None, depth=0)
    except _Fatal as fatal:
        return LoadResult(None, [fatal.problem])
    if not isinstance(data, dict):
        kind = _describe_node(root)
        problem = _error(
            positions.of(root),
            f"the file must be a mapping of keys, but it is {kind}"
            if file
            else f"the deploy file must be a mapping of keys such as `version:` and `endpoint:`, "
            f"but it is {kind}",
        )
        return LoadResult(None, [*converter.problems, problem])
    document = Document(data, converter.locations, converter.scalar_text)
    return LoadResult(document, converter.problems)


def _decode(raw: bytes, first: Mark) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Fatal(_error(first, "the file is UTF-16 encoded; save it as UTF-8"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        byte = raw[exc.start]
        raise _Fatal(
            _error(
                Mark(line, column, first.file),
                f"the file is not valid UTF-8 (byte 0x{byte:02x}); save it as UTF-8",
            )
        ) from exc
    return text


def _compose_single(text: str, positions: _Positions, first: Mark) -> Node:
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        raise _Fatal(_yaml_error(exc, positions)) from exc
    except yaml.reader.ReaderError as exc:
        mark = positions.at(exc.position)
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise _Fatal(
            _error(mark, f"invalid YAML: the character U+{ord(character):04X} is not allowed")
        ) from exc
    except RecursionError as exc:
        raise _Fatal(
            _error(first, f"the file is nested too deeply (over {MAX_DEPTH} levels)")
        ) from exc
    documents = [node for node in nodes if not _is_empty(node)]
    if not documents:
        raise _Fatal(
            _error(
                first,
                "the file is empty"
                if first.file
                else "the deploy file is empty; start with `version: 1` (see the README)",
            )
        )
    if len(nodes) > 1:
        second = positions.of(nodes[1])
        raise _Fatal(
            _error(
                second,
                f"the file holds {len(nodes)} YAML documents (separated by `---`); "
                "a deploy file is one document",
            )
        )
    return documents[0]


def _is_empty(node: Node | None) -> bool:
    return node is None or (
        isinstance(node, ScalarNode) and node.tag == _TAG + "null" and node.value in ("", "~")
    )


def _yaml_error(exc: yaml.MarkedYAMLError, positions: _Positions) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = positions.at(mark.index if mark is not None else 0)
    message = f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}"
    if exc.context and exc.problem and exc.context_mark is not None:
        context = positions.at(exc.context_mark.index)
        message += f" ({exc.context} at line {context.line}, column {context.column})"
    return _error(where, message)


def _describe_node(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        return _KIND_OF_TAG.get(node.tag, "a string")
    return "a mapping"


class _Converter:
    def __init__(self, positions: _Positions) -> None:
        self._positions = positions
        self.locations: dict[JsonPath, Location] = {}
        self.scalar_text: dict[JsonPath, str] = {}
        self.problems: list[Problem] = []
        self._count = 0
        self._visited = 0
        self._active: set[int] = set()
        self._merged: dict[int, list[tuple[Node, Node]]] = {}
        self._constructor = yaml.constructor.SafeConstructor()

    def _stop(self, node: Node, message: str) -> _Fatal:
        return _Fatal(_error(self._positions.of(node), message))

    def _visit(self, node: Node, count: int = 1) -> None:
        self._visited += count
        if self._visited > MAX_NODES:
            raise self._stop(
                node,
                f"the file expands to more than {MAX_NODES} YAML nodes "
                "(aliases or merge keys `<<` repeated too often)",
            )

    def convert(self, node: Node, path: JsonPath, key: Mark | None, depth: int) -> Any:
        self._count += 1
        self._visit(node)
        if self._count > MAX_VALUES:
            raise self._stop(
                node,
                f"the file expands to more than {MAX_VALUES} values "
                "(YAML aliases repeated too often)",
            )
        if depth > MAX_DEPTH:
            raise self._stop(node, f"the file is nested too deeply (over {MAX_DEPTH} levels)")
        self.locations[path] = Location(self._positions.of(node), key)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            mark = self._positions.of(node)
            self.problems.append(
                _error(
                    mark,
                    f"a YAML alias makes the value at line {mark.line} contain itself",
                )
            )
            return None
        expected_tag = _TAG + ("seq" if isinstance(node, SequenceNode) else "map")
        if node.tag != expected_tag:
            self.problems.append(
                _error(self._positions.of(node), f"unsupported YAML tag {node.tag}; remove the tag")
            )
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [
                    self.convert(item, (*path, index), None, depth + 1)
                    for index, item in enumerate(node.value)
                ]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path, depth)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode, path: JsonPath) -> Any:
        self.scalar_text[path] = node.value
        if node.tag not in _SCALAR_TAGS:
            self.problems.append(
                _error(self._positions.of(node), f"unsupported YAML tag {node.tag}; remove the tag")
            )
            return None
        try:
            return self._constructor.construct_object(node)
        except (ValueError, yaml.YAMLError):
            # e.g. 2024-13-45 looks like a date but is not one: take it as the text it is.
            return node.value

    def _mapping(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Mark] = {}
        for key_node, value_node in self._entries(node):
            name = self._key(key_node)
            if name is None:
                continue
            key_mark = self._positions.of(key_node)
            own = key_node in self._own_keys(node)
            if own and name in first_seen:
                self.problems.append(
                    _error(
                        key_mark,
                        f"duplicate key '{name}' (first at line {first_seen[name].line}); "
                        "keep only one",
                    )
                )
            if own:
                first_seen.setdefault(name, key_mark)
            child = (*path, name)
            if name in result:  # a duplicate: forget where the replaced value was
                for stale in [p for p in self.locations if p[: len(child)] == child]:
                    del self.locations[stale]
            result[name] = self.convert(value_node, child, key_mark, depth + 1)
        return result

    @staticmethod
    def _own_keys(node: MappingNode) -> list[Node]:
        return [key for key, _ in node.value if key.tag != _MERGE_TAG]

    def _entries(self, node: MappingNode, depth: int = 0) -> list[tuple[Node, Node]]:
        """Key/value pairs with YAML merge keys (`<<: *defaults`) applied: own keys win.

        A mapping merged in many places is expanded once; every pair looked at counts
        towards MAX_NODES, so no arrangement of merges can make this slow."""
        cached = self._merged.get(id(node))
        if cached is not None:
            self._visit(node, len(cached))
            return cached
        if depth > MAX_DEPTH:
            raise self._stop(
                node, f"merge keys (<<) are nested too deeply (over {MAX_DEPTH} levels)"
            )
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            self._visit(key_node)
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                self._visit(source)
                if not isinstance(source, MappingNode):
                    self.problems.append(
                        _error(
                            self._positions.of(source), "a merge key (<<) must refer to a mapping"
                        )
                    )
                    continue
                if id(source) in self._active:
                    self.problems.append(
                        _error(
                            self._positions.of(source), "a merge key (<<) refers to its own mapping"
                        )
                    )
                    continue
                self._active.add(id(source))
                try:
                    merged.extend(self._entries(source, depth + 1))
                finally:
                    self._active.discard(id(source))
        own_names = {self._key_text(key) for key, _ in own}
        inherited: list[tuple[Node, Node]] = []
        inherited_names: set[str | None] = set()
        for key_node, value_node in merged:
            name = self._key_text(key_node)
            if name in own_names or name in inherited_names:
                continue
            inherited_names.add(name)
            inherited.append((key_node, value_node))
        entries = inherited + own
        self._merged[id(node)] = entries
        return entries

    @staticmethod
    def _key_text(node: Node) -> str | None:
        return node.value if isinstance(node, ScalarNode) else None

    def _key(self, node: Node) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _TAG + "str":
            return str(node.value)
        if isinstance(node, ScalarNode):
            kind = _KIND_OF_TAG.get(node.tag, f"tagged {node.tag}")
            self.problems.append(
                _error(
                    self._positions.of(node),
                    f"the key {node.value!r} is read as {kind}, not a string; "
                    f'quote it ("{node.value}") or rename it',
                )
            )
            return None
        self.problems.append(
            _error(self._positions.of(node), "keys must be plain strings, not lists or mappings")
        )
        return None

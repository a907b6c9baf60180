"""GitHub Actions expressions, enough for workflow `if:` and `${{ }}`: literals, context paths,
== != < > <= >= (strings compared case-insensitively), && || ! (returning operand values, as
GitHub does), parentheses, and contains(), startsWith(), endsWith(), format(), success(),
always(), failure(), cancelled()."""

from __future__ import annotations

import math
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*|\*))"
)
_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read expression at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
    return tokens


def truthy(value: Any) -> bool:
    """GitHub's truthiness: not null, false, 0, '' or NaN."""
    is_nan = isinstance(value, float) and math.isnan(value)
    return value not in (None, False, 0, "") and not is_nan


def _loose(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Parser:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.context = context

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r}, found {token}")
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.unary()
            value = right if truthy(value) else value
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.primary()
        token = self.peek()
        if token and token[0] == "op" and token[1] in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            right = self.primary()
            a, b = _loose(left), _loose(right)
            return {
                "==": lambda: a == b,
                "!=": lambda: a != b,
                "<": lambda: a < b,
                ">": lambda: a > b,
                "<=": lambda: a <= b,
                ">=": lambda: a >= b,
            }[token[1]]()
        return left

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if "." in value else int(value)
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "name":
            raise ValueError(f"unexpected {value!r}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.peek() == ("op", "("):
            return self.call(value)
        return self.path(self.context.get(value))

    def path(self, current: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            current = current.get(key) if isinstance(current, dict) else None
        return current

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        lowered = name.lower()
        if lowered in ("success", "always"):
            return True
        if lowered in ("failure", "cancelled"):
            return False
        if lowered == "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_loose(item) == _loose(needle) for item in haystack)
            return str(needle).lower() in str(haystack or "").lower()
        if lowered == "startswith":
            return str(args[0] or "").lower().startswith(str(args[1]).lower())
        if lowered == "endswith":
            return str(args[0] or "").lower().endswith(str(args[1]).lower())
        if lowered == "format":
            return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1)) + 1]), str(args[0]))
        raise ValueError(f"unsupported function {name}")


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    text = expression.strip()
    match = _INTERPOLATION.fullmatch(text)
    if match:
        text = match.group(1)
    return _Parser(text, context).parse()


def interpolate(text: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        result = _Parser(match.group(1), context).parse()
        return (
            ""
            if result is None
            else str(result).lower()
            if isinstance(result, bool)
            else str(result)
        )

    return _INTERPOLATION.sub(value, text)

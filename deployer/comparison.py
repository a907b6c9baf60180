"""rollout.agreement's rules: whether the candidate's answer to one request agrees with the
known-good's. Pure functions over parsed JSON; the answers are the models' (untrusted), so what
a reason quotes of them is short, and the caller escapes it.

Equality is JSON's, not Python's: `true` is not `1` (Python says True == 1), `1` is `1.0`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from deployer.spec.model import CompareKind, CompareRule

QUOTE_CHARS = 80  # of a value a reason quotes


@dataclass(frozen=True)
class Compared:
    """`agrees` None: not compared (the known-good's answer lacks what the rule reads)."""

    agrees: bool | None
    reason: str = ""


def compare(
    rule: CompareRule, known: Any, candidate: Any, schema: Draft202012Validator | None = None
) -> Compared:
    match rule.kind:
        case CompareKind.EXACT:
            where = first_difference(known, candidate, 0.0, 0.0)
            return Compared(where is None, _differs(where, known, candidate))
        case CompareKind.POINTER:
            return _pointer(rule.pointer, known, candidate)
        case CompareKind.TOLERANCE:
            where = first_difference(known, candidate, rule.absolute, rule.relative)
            return Compared(where is None, _differs(where, known, candidate))
        case CompareKind.SCHEMA:
            assert schema is not None, "a schema rule needs its validator"
            return _schema(schema, candidate)


def resolve_pointer(document: Any, pointer: str) -> tuple[bool, Any]:
    """RFC 6901: (found, value). `~1` is `/` and `~0` is `~` in a name, unescaped in that order;
    an array index is a decimal number without leading zeros."""
    if pointer == "":
        return True, document
    value = document
    for token in pointer[1:].split("/"):
        name = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and name in value:
            value = value[name]
        elif (
            isinstance(value, list)
            and name.isdigit()
            and (name == "0" or not name.startswith("0"))
            and int(name) < len(value)
        ):
            value = value[int(name)]
        else:
            return False, None
    return True, value


def first_difference(known: Any, candidate: Any, absolute: float, relative: float) -> str | None:
    """The JSON pointer of the first place the two differ ("" for the whole), numbers within
    the tolerance counting as equal; None when they agree everywhere."""
    return next(_differences(known, candidate, absolute, relative, ""), None)


def _differences(a: Any, b: Any, absolute: float, relative: float, at: str) -> Iterator[str]:
    if _is_number(a) and _is_number(b):
        if not _close(a, b, absolute, relative):
            yield at
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            yield at
            return
        for key in a:
            yield from _differences(a[key], b[key], absolute, relative, f"{at}/{_escape(key)}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield at
            return
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, absolute, relative, f"{at}/{index}")
    elif type(a) is not type(b) or a != b:
        yield at


def _close(a: float, b: float, absolute: float, relative: float) -> bool:
    """|a - b| <= max(relative * max(|a|, |b|), absolute) (docs.python.org, math.isclose); NaN
    (which Python's json reads) only equals NaN; integers beyond a float are compared exactly."""
    if a == b:
        return True
    try:
        both_nan = math.isnan(a) and math.isnan(b)
        return both_nan or math.isclose(a, b, rel_tol=relative, abs_tol=absolute)
    except OverflowError:
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def _differs(where: str | None, known: Any, candidate: Any) -> str:
    if where is None:
        return ""
    _, a = resolve_pointer(known, where)
    _, b = resolve_pointer(candidate, where)
    return f"at {where or '(the whole answer)'}: {quote(a)} → {quote(b)}"


def _pointer(pointer: str, known: Any, candidate: Any) -> Compared:
    found, expected = resolve_pointer(known, pointer)
    if not found:
        return Compared(None, f"the known-good's answer has no {pointer}")
    found, given = resolve_pointer(candidate, pointer)
    if not found:
        return Compared(False, f"the answer has no {pointer}")
    if first_difference(expected, given, 0.0, 0.0) is None:
        return Compared(True)
    return Compared(False, f"{pointer}: {quote(expected)} → {quote(given)}")


def _schema(schema: Draft202012Validator, candidate: Any) -> Compared:
    error = next(iter(sorted(schema.iter_errors(candidate), key=lambda e: e.path)), None)
    if error is None:
        return Compared(True)
    where = "".join(f"/{_escape(str(part))}" for part in error.absolute_path) or "(root)"
    return Compared(False, f"does not match the schema at {where}: {error.message[:200]}")

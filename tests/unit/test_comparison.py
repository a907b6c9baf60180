"""rollout.agreement's comparison rules on parsed answers: JSON's equality (not Python's), RFC
6901 pointers, numeric tolerance anywhere in an answer, a response schema; and the threshold
taken exactly as written."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from deployer.agreement import meets, percentile
from deployer.comparison import compare, resolve_pointer
from deployer.spec.model import CompareKind, CompareRule

EXACT = CompareRule()
LABEL = CompareRule(CompareKind.POINTER, pointer="/label")


def tolerance(absolute: float = 0.0, relative: float = 0.0) -> CompareRule:
    return CompareRule(CompareKind.TOLERANCE, absolute=absolute, relative=relative)


def test_exact_equality_is_jsons_not_pythons() -> None:
    assert compare(EXACT, {"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1.0}).agrees
    # Python says True == 1 and False == 0; JSON's true is not the number 1.
    said = compare(EXACT, {"ok": 1}, {"ok": True})
    assert said.agrees is False and said.reason == "at /ok: 1 → true"
    assert compare(EXACT, [1, 2], [2, 1]).agrees is False  # order counts in an array
    assert compare(EXACT, {"a": 1}, {"a": 1, "b": 2}).reason == (
        'at (the whole answer): {"a": 1} → {"a": 1, "b": 2}'
    )


def test_a_pointer_compares_only_the_label() -> None:
    known = {"label": "cat", "score": 0.91, "served": 7}
    assert compare(LABEL, known, {"label": "cat", "score": 0.5, "served": 99}).agrees
    flipped = compare(LABEL, known, {"label": "dog", "score": 0.91})
    assert flipped.agrees is False and flipped.reason == '/label: "cat" → "dog"'
    missing = compare(LABEL, known, {"prediction": "cat"})
    assert missing.agrees is False and missing.reason == "the answer has no /label"
    # The known-good's answer lacks it: nothing to compare the candidate with.
    assert compare(LABEL, {"x": 1}, {"label": "cat"}).agrees is None


@pytest.mark.parametrize(
    ("pointer", "found", "value"),
    [
        ("", True, {"a/b": {"m~n": [10, 20]}, "0": "zero"}),
        ("/a~1b/m~0n/1", True, 20),
        ("/0", True, "zero"),
        ("/a~1b/m~0n/01", False, None),  # no leading zeros in an index
        ("/a~1b/m~0n/2", False, None),
        ("/a~1b/m~0n/-", False, None),
        ("/missing", False, None),
    ],
)
def test_pointers_follow_rfc_6901(pointer: str, found: bool, value: Any) -> None:
    document = {"a/b": {"m~n": [10, 20]}, "0": "zero"}
    assert resolve_pointer(document, pointer) == (found, value)


def test_tolerance_applies_to_every_number_and_nothing_else() -> None:
    known = {"label": "cat", "scores": [0.9, 0.1], "meta": {"n": 1000}}
    drifted = {"label": "cat", "scores": [0.9004, 0.0996], "meta": {"n": 1000.3}}
    assert compare(tolerance(absolute=0.001), known, drifted).agrees is False  # 0.3 on n
    assert compare(tolerance(absolute=0.001, relative=0.001), known, drifted).agrees
    far = compare(tolerance(absolute=0.001), known, {**drifted, "meta": {"n": 1000}})
    assert far.agrees
    beyond = compare(tolerance(absolute=0.0001), known, drifted)
    assert beyond.agrees is False and beyond.reason == "at /scores/0: 0.9 → 0.9004"
    # strings and shape are compared exactly, however loose the numbers
    assert compare(tolerance(absolute=1), known, {**drifted, "label": "dog"}).agrees is False
    assert compare(tolerance(absolute=1), [1, 2], [1, 2, 3]).agrees is False
    assert compare(tolerance(absolute=1), {"x": 1}, {"x": True}).agrees is False


def test_numbers_python_reads_but_floats_cannot_hold() -> None:
    big = 10**400
    assert compare(tolerance(relative=0.1), {"n": big}, {"n": big}).agrees
    assert compare(tolerance(relative=0.1), {"n": big}, {"n": big + 1}).agrees is False
    assert compare(EXACT, {"n": math.nan}, {"n": math.nan}).agrees


def test_a_schema_judges_the_candidates_answer_alone() -> None:
    schema = Draft202012Validator(
        {
            "type": "object",
            "required": ["label"],
            "properties": {"label": {"enum": ["cat", "dog"]}},
        }
    )
    rule = CompareRule(CompareKind.SCHEMA)
    assert compare(rule, {"anything": 1}, {"label": "dog"}, schema).agrees
    said = compare(rule, {"label": "cat"}, {"label": "cow"}, schema)
    assert said.agrees is False
    assert said.reason.startswith("does not match the schema at /label: 'cow' is not one of")


def test_min_agreement_is_taken_exactly_as_written() -> None:
    assert 0.07 * 100 > 7  # floating point: 7.000000000000001
    assert meets(7, 100, 0.07)
    assert meets(98, 100, 0.98) and not meets(97, 100, 0.98)
    assert meets(0, 3, 0.0) and meets(3, 3, 1.0) and not meets(2, 3, 1.0)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7 and percentile([], 0.5) is None


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@settings(deadline=None)
@given(JSON)
def test_an_answer_agrees_with_itself_under_every_rule(answer: Any) -> None:
    for rule in (EXACT, LABEL, tolerance(absolute=0.0)):
        assert compare(rule, answer, answer).agrees is not False


def _nudge(value: Any, by: float) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return value + by
    if isinstance(value, list):
        return [_nudge(item, by) for item in value]
    return {key: _nudge(item, by) for key, item in value.items()}


@settings(deadline=None)
@given(JSON, st.floats(min_value=-0.0009, max_value=0.0009))
def test_drift_within_the_tolerance_agrees_and_beyond_it_does_not(answer: Any, by: float) -> None:
    assert compare(tolerance(absolute=0.001), answer, _nudge(answer, by)).agrees
    far = _nudge(answer, 0.01)
    has_number = far != answer
    assert compare(tolerance(absolute=0.001), answer, far).agrees is not has_number

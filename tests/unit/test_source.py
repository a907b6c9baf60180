"""YAML-level problems are reported at their line and column, never as a traceback."""

from __future__ import annotations

import pytest

from deployer.spec.source import MAX_VALUES, Mark, load_document, render_path


def single_problem(text: str | bytes) -> tuple[int, int, str]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    result = load_document(raw)
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    return problem.line, problem.column, problem.message


def test_positions_of_keys_and_values_are_one_based() -> None:
    result = load_document(b"version: 1\nendpoint:\n  name: credit-risk\n  tags: [a, b]\n")
    document = result.document
    assert document is not None and not result.problems
    assert document.key_mark(("endpoint", "name")) == Mark(3, 3)
    assert document.value_mark(("endpoint", "name")) == Mark(3, 9)
    assert document.value_mark(("endpoint", "tags", 1)) == Mark(4, 13)
    # A path that was never written is placed at its nearest written ancestor.
    assert document.value_mark(("endpoint", "auth_mode")) == document.value_mark(("endpoint",))


def test_syntax_error_is_reported_at_its_line() -> None:
    line, column, message = single_problem("version: 1\nendpoint:\n  name: [unclosed\n  x: 1\n")
    assert line == 4
    assert message.startswith("invalid YAML: ")
    assert column >= 1


def test_bad_indentation_is_a_syntax_error_with_a_line() -> None:
    line, _, message = single_problem("endpoint:\n  name: a\n bad: 1\n")
    assert line == 3
    assert "invalid YAML" in message


def test_tab_indentation_is_reported() -> None:
    line, _, message = single_problem("endpoint:\n\tname: a\n")
    assert line == 2
    assert "invalid YAML" in message


def test_duplicate_keys_are_all_reported_and_the_file_still_loads() -> None:
    result = load_document(b"a: 1\nb: 2\na: 3\nb: 4\n")
    assert [(p.line, p.column) for p in result.problems] == [(3, 1), (4, 1)]
    assert "duplicate key 'a' (first at line 1)" in result.problems[0].message
    assert result.document is not None
    assert result.document.data == {"a": 3, "b": 4}
    assert result.document.value_mark(("a",)) == Mark(3, 4)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1: x\n", "an integer"),
        ("on: x\n", "a boolean"),
        ("yes: x\n", "a boolean"),
        ("~: x\n", "null"),
        ("2024-01-01: x\n", "a date"),
    ],
)
def test_non_string_keys_are_reported_with_a_fix(text: str, kind: str) -> None:
    line, column, message = single_problem(text)
    assert (line, column) == (1, 1)
    assert f"is read as {kind}, not a string" in message
    assert "quote it" in message


def test_complex_keys_are_refused() -> None:
    _, _, message = single_problem("? [a, b]\n: x\n")
    assert "keys must be plain strings" in message


def test_self_referencing_anchor_is_reported_not_followed() -> None:
    result = load_document(b"version: 1\nloop: &x [1, *x]\n")
    assert result.document is not None
    [problem] = result.problems
    assert problem.line == 2
    assert "contain itself" in problem.message


def test_self_referencing_merge_key_is_reported() -> None:
    result = load_document(b"a: &x\n  b: 1\n  <<: *x\n")
    assert any("refers to its own mapping" in p.message for p in result.problems)


def test_alias_bomb_is_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    _, _, message = single_problem("\n".join(lines) + "\n")
    assert f"more than {MAX_VALUES} values" in message


def test_deep_nesting_is_reported() -> None:
    _, _, message = single_problem("a: " + "[" * 2000 + "]" * 2000 + "\n")
    assert "nested too deeply" in message


def test_merge_keys_apply_with_own_keys_winning() -> None:
    text = b"base: &base\n  port: 5001\n  path: /a\nroute:\n  <<: *base\n  path: /b\n"
    result = load_document(text)
    assert result.document is not None and not result.problems
    assert result.document.data["route"] == {"port": 5001, "path": "/b"}
    # The inherited value is located where the anchor wrote it.
    assert result.document.value_mark(("route", "port")) == Mark(2, 9)
    assert result.document.value_mark(("route", "path")) == Mark(6, 9)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file(text: str) -> None:
    line, column, message = single_problem(text)
    assert (line, column) == (1, 1)
    assert "empty" in message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "an integer")],
)
def test_document_must_be_a_mapping(text: str, kind: str) -> None:
    _, _, message = single_problem(text)
    assert f"must be a mapping of keys such as `version:` and `endpoint:`, but it is {kind}" in (
        message
    )


def test_several_documents_are_refused_at_the_second() -> None:
    line, _, message = single_problem("version: 1\n---\nversion: 1\n")
    assert line == 3
    assert "2 YAML documents" in message


def test_not_utf8_reports_the_byte_position() -> None:
    line, column, message = single_problem(b"version: 1\nendpoint:\n  name: caf\xe9\n")
    assert (line, column) == (3, 12)
    assert "not valid UTF-8 (byte 0xe9)" in message


def test_utf16_is_refused_with_a_fix() -> None:
    _, _, message = single_problem("version: 1\n".encode("utf-16"))
    assert "UTF-16" in message and "save it as UTF-8" in message


def test_utf8_bom_is_accepted() -> None:
    result = load_document(b"\xef\xbb\xbfversion: 1\n")
    assert result.document is not None and result.document.data == {"version": 1}


def test_control_characters_are_reported_at_their_position() -> None:
    line, column, message = single_problem("version: 1\nname: a\x00b\n")
    assert (line, column) == (2, 8)
    assert "U+0000" in message


def test_unsafe_tags_are_refused_not_constructed() -> None:
    result = load_document(b"a: !!python/object/apply:os.system ['true']\nb: !Ref x\n")
    messages = [p.message for p in result.problems]
    assert len(messages) == 2
    assert all("unsupported YAML tag" in message for message in messages)


def test_invalid_date_lookalike_is_kept_as_text() -> None:
    result = load_document(b"a: 2024-13-45\n")
    assert result.document is not None and result.document.data == {"a": "2024-13-45"}


def test_numbers_keep_their_source_text() -> None:
    result = load_document(b"args: {V: 3.10}\n")
    assert result.document is not None
    assert result.document.data["args"]["V"] == 3.1
    assert result.document.scalar_text[("args", "V")] == "3.10"


def test_render_path() -> None:
    assert render_path(("deployment", "instance_count")) == "deployment.instance_count"
    assert render_path(("rollout", "canary_steps", 1)) == "rollout.canary_steps[1]"
    assert render_path(("endpoint", "tags", "a.b")) == 'endpoint.tags["a.b"]'
    assert render_path(()) == "the document"

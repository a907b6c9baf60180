"""Endpoint name templates render to valid, deterministic Azure ML names."""

from __future__ import annotations

import pytest

from deployer.errors import NameTemplateError
from deployer.spec.names import (
    check_template,
    is_valid_endpoint_name,
    placeholders,
    render,
    substitute,
    template_problems,
)

VALUES = {
    "pr": "42",
    "branch": "feature/Add-Scoring",
    "sha": "a" * 40,
    "short_sha": "aaaaaaa",
    "tag": "v1.2.3",
    "run_id": "123",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("credit-risk", "credit-risk"),
        ("credit-risk-pr{pr}", "credit-risk-pr42"),
        ("app-{branch}", "app-feature-add-scoring"),
        ("Model-{tag}", "model-v1-2-3"),
        ("app--{branch}--x", "app-feature-add-scoring-x"),
        ("app-{short_sha}", "app-aaaaaaa"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, VALUES) == expected


def test_long_names_are_shortened_with_a_stable_hash() -> None:
    values = {**VALUES, "branch": "feature/a-really-long-branch-name-about-scoring-things"}
    name = render("credit-risk-{branch}", values)
    assert len(name) == 32
    assert name.startswith("credit-risk-feature-a-rea")
    assert is_valid_endpoint_name(name)
    assert render("credit-risk-{branch}", values) == name
    other = render("credit-risk-{branch}", {**values, "branch": values["branch"] + "2"})
    assert other != name and other[:25] == name[:25]


def test_unicode_and_slashes_become_dashes() -> None:
    assert render("app-{branch}", {"branch": "fix/Über_größe"}) == "app-fix-ber-gr-e"


def test_missing_value_in_this_run_is_a_clear_error() -> None:
    with pytest.raises(NameTemplateError, match=r"uses \{tag\}, but this run has no tag"):
        render("app-{tag}", {"pr": "1"})


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("app-{prr}", "unknown placeholder {prr}; did you mean '{pr}'?"),
        ("app-{pr", "'{' without a matching '}'"),
        ("app-pr}", "'}' without a matching '{'"),
        ("{pr}-app", "must start with a letter; put fixed text first"),
        ("1app", "must start with a letter"),
        ("app_x", "contains '_'"),
        ("Àpp", "must start with a letter"),
        ("Àpp", "contains 'À'"),
        ("ab", "must be 3-32 characters long (got 2)"),
        ("a" * 33, "must be 3-32 characters long (got 33)"),
        ("app-", "must not end with '-'"),
        ("a{pr}", "renders to 'a1', shorter than 3 characters"),
        ("ab{branch}", "shorter than 3 characters; add fixed text when {branch}='é'"),
    ],
)
def test_template_problems(template: str, fragment: str) -> None:
    problems = template_problems(template)
    assert any(fragment in problem for problem in problems), problems
    with pytest.raises(NameTemplateError):
        check_template(template)


def test_all_problems_are_listed() -> None:
    problems = template_problems("x_{foo}{bar}")
    assert len(problems) == 3


@pytest.mark.parametrize(
    "template", ["credit-risk", "credit-risk-pr{pr}", "app-{branch}", "m-{sha}", "rel{tag}{run_id}"]
)
def test_good_templates(template: str) -> None:
    assert template_problems(template) == []


def test_placeholders() -> None:
    assert placeholders("a-{pr}-{short_sha}") == ("pr", "short_sha")
    assert placeholders("plain") == ()


@pytest.mark.parametrize(
    ("name", "valid"),
    [("abc", True), ("a-b-1", True), ("ab", False), ("1ab", False), ("ab-", False), ("a_b", False)],
)
def test_is_valid_endpoint_name(name: str, valid: bool) -> None:
    assert is_valid_endpoint_name(name) is valid


def test_substitute_keeps_the_values_as_they_are() -> None:
    template = "r.azurecr.io/app:{short_sha}-{run_id}"
    assert substitute(template, VALUES) == f"r.azurecr.io/app:aaaaaaa-{VALUES['run_id']}"
    with pytest.raises(NameTemplateError, match=r"uses \{pr\}, but this run has no pr"):
        substitute("app:{pr}", {})

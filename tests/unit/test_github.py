from __future__ import annotations

from deployer.diagnostics import Problem, Severity
from deployer.github.runner import (
    command,
    escape_data,
    escape_property,
    in_github_actions,
    problem_annotation,
)


def test_data_escaping_follows_the_runner() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    # `%` first, so an already escaped sequence round-trips through the runner's unescaping.
    assert escape_data("%0A") == "%250A"


def test_property_escaping_also_covers_colon_and_comma() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_property("k=v") == "k=v"


def test_command_line() -> None:
    assert command("group", "Build") == "::group::Build"
    assert (
        command("error", "bad\nthing", file="d.yml", line=3)
        == "::error file=d.yml,line=3::bad%0Athing"
    )


def test_problem_annotation() -> None:
    problem = Problem(12, 5, Severity.ERROR, "deployment.instance_count must be >= 1 (got 0)")
    assert problem_annotation(problem, "deploy.yml") == (
        "::error file=deploy.yml,line=12,col=5,title=deploy.yml::"
        "deployment.instance_count must be >= 1 (got 0)"
    )
    assert problem.human("deploy.yml") == (
        "deploy.yml:12:5: error: deployment.instance_count must be >= 1 (got 0)"
    )


def test_human_form_keeps_one_problem_on_one_line() -> None:
    problem = Problem(1, 1, Severity.ERROR, "a\n::add-mask::x")
    assert "\n" not in problem.human("f")


def test_in_github_actions() -> None:
    assert in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not in_github_actions({"GITHUB_ACTIONS": "false"})
    assert not in_github_actions({})

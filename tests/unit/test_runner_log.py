"""The test suite's model of the runner's command parser (tools/runner/log.py): it
must find what the runner would find, or a green security test means nothing."""

from __future__ import annotations

from tools.runner.log import EXTENSIONS, foreign_commands, parse_v2, replay

REGISTERED = set(EXTENSIONS) | {"stop-commands"}


def names(lines: list[str]) -> list[str]:
    return [command.name.lower() for command in replay(lines).commands]


def test_v2_commands_are_found_after_any_leading_whitespace() -> None:
    command = parse_v2("  ::error file=a%3Ab.yml,line=3,title=x%2Cy::bad%0Athing%25", REGISTERED)
    assert command is not None and command.name == "error"
    assert command.properties == {"file": "a:b.yml", "line": "3", "title": "x,y"}
    assert command.data == "bad\nthing%"
    assert names(["\t \u3000\u00a0::warning::x", "\u2028::notice::y"]) == ["warning", "notice"]
    assert names(["not a command", "::unknown::x", "::error no end"]) == []


def test_names_are_case_insensitive_and_legacy_commands_match_anywhere() -> None:
    assert names(["::ADD-MASK::s3cret", "build step 3 ##[warning]careful"]) == [
        "add-mask",
        "warning",
    ]


def test_stop_commands_ignore_everything_until_the_token() -> None:
    result = replay(
        [
            "::stop-commands::tok",
            "::add-mask::hidden-value",
            "##[error]not processed",
            "::TOK::",
            "::warning::processed",
        ]
    )
    assert [command.name.lower() for command in result.commands] == [
        "stop-commands",
        "tok",
        "warning",
    ]
    assert result.masker.values == set()
    assert not result.stopped
    # The attack of the issue: a build label stops commands before the keys' masks.
    attack = replay(["LABEL note=##[stop-commands]tok", "::add-mask::the-key", "key the-key"])
    assert attack.stopped and "key the-key" in attack.log


def test_a_secret_shown_before_its_mask_is_a_leak() -> None:
    result = replay(
        ["key s3cret-value", "::add-mask::s3cret-value", "key s3cret-value"],
        watched=["s3cret-value"],
    )
    assert len(result.leaks) == 1
    assert result.log[-1] == "key ***"


def test_commands_the_action_does_not_write_are_foreign() -> None:
    result = replay(
        [
            "::add-mask::s3cret-value",
            "::group::Building",
            "::endgroup::",
            "::error title=azureml-deploy::failed",
            "::error file=deploy.yml,line=3,col=1,title=deploy.yml::bad",
            " ::warning title=azureml-deploy::indented",
            "x ##[error]legacy",
            "::warning::no title",
            "::set-output name=a::b",
        ]
    )
    found = foreign_commands(result, masks={"s3cret-value"})
    assert len(found) == 4, found

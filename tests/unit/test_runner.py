"""Runner I/O: masks, outputs with the toolkit's heredoc, summary, context detection."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from deployer.context import detect
from deployer.errors import DeployerError
from deployer.github import Runner


def runner(tmp_path: Path, actions: bool = True) -> tuple[Runner, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "sum")}
    if actions:
        env["GITHUB_ACTIONS"] = "true"
    return Runner(env, out, err), out, err


def test_mask_is_announced_once_and_scrubs_our_own_output(tmp_path: Path) -> None:
    r, out, err = runner(tmp_path)
    r.mask("s3cr3t-value")
    r.mask("s3cr3t-value")
    r.info("the key is s3cr3t-value")
    assert out.getvalue() == "::add-mask::s3cr3t-value\n"
    assert err.getvalue() == "the key is ***\n"


def test_outputs_use_a_random_heredoc_delimiter(tmp_path: Path) -> None:
    r, _, _ = runner(tmp_path)
    r.set_outputs({"a": "one", "b": "multi\nline"})
    text = (tmp_path / "out").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("a<<ghadelimiter_") and lines[1] == "one"
    assert lines[2] == lines[0].split("<<")[1]
    assert lines[3].startswith("b<<ghadelimiter_") and lines[4:6] == ["multi", "line"]
    assert lines[0].split("<<")[1] != lines[3].split("<<")[1]
    assert text.endswith("\n")


def test_a_value_holding_the_delimiter_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deployer.github as github

    monkeypatch.setattr(github.secrets, "token_hex", lambda n: "fixed")
    r, _, _ = runner(tmp_path)
    with pytest.raises(DeployerError, match="contains its own delimiter"):
        r.set_outputs({"evil": "x\nghadelimiter_fixed\ninjected=1"})


def test_command_looking_log_lines_are_defused(tmp_path: Path) -> None:
    r, _, err = runner(tmp_path)
    r.info("::add-mask::nope")
    assert err.getvalue() == " ::add-mask::nope\n"


def test_outside_github_nothing_goes_to_runner_files(tmp_path: Path) -> None:
    r, out, _ = runner(tmp_path, actions=False)
    r.mask("x-secret")
    assert out.getvalue() == ""
    r.add_summary("no")  # GITHUB_STEP_SUMMARY is set here, so it is written...
    assert (tmp_path / "sum").read_text() == "no"


def test_summary_never_holds_a_masked_value(tmp_path: Path) -> None:
    r, _, _ = runner(tmp_path)
    r.mask("key-123456")
    r.add_summary("| key | key-123456 |")
    assert "key-123456" not in (tmp_path / "sum").read_text()


def event(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def test_pull_request_context(tmp_path: Path) -> None:
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(
            event(tmp_path, {"action": "opened", "pull_request": {"number": 42}})
        ),
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_HEAD_REF": "feature/x",
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_REF_NAME": "42/merge",
        "GITHUB_REPOSITORY": "octo-org/octo-repo",
        "GITHUB_RUN_ID": "99",
    }
    context = detect(environ, tmp_path)
    assert context.pr_number == 42 and context.event_action == "opened"
    assert context.branch == "feature/x" and context.tag is None
    assert context.name_values() == {
        "pr": "42",
        "branch": "feature/x",
        "sha": environ["GITHUB_SHA"],
        "short_sha": "0123456",
        "run_id": "99",
    }
    assert context.source_url == "https://github.com/octo-org/octo-repo"


def test_tag_push_context(tmp_path: Path) -> None:
    context = detect(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_REF_NAME": "v1.2.0",
            "GITHUB_SHA": "f" * 40,
        },
        tmp_path,
    )
    assert context.tag == "v1.2.0" and context.pr_number is None and context.branch is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"pull_request": {}},
        {"pull_request": {"number": "x"}},
        {"number": -3},
        ["not", "a", "mapping"],
    ],
)
def test_a_pull_request_event_without_a_number(tmp_path: Path, payload: object) -> None:
    context = detect(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event(tmp_path, payload)),
        },
        tmp_path,
    )
    assert context.pr_number is None
    assert "pr" not in context.name_values()

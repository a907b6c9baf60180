"""Runner I/O: masks, outputs with the toolkit's heredoc, summary, context detection."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployer.context import detect
from deployer.errors import DeployerError
from deployer.github.runner import Runner
from tools.runner.log import foreign_commands, replay


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
    # One stream inside Actions: the runner handles stderr lines before stdout ones.
    assert out.getvalue() == "::add-mask::s3cr3t-value\nthe key is ***\n"
    assert err.getvalue() == ""


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
    monkeypatch.setattr("deployer.github.runner.secrets.token_hex", lambda n: "fixed")
    r, _, _ = runner(tmp_path)
    with pytest.raises(DeployerError, match="contains its own delimiter"):
        r.set_outputs({"evil": "x\nghadelimiter_fixed\ninjected=1"})


def test_command_looking_log_lines_are_defused(tmp_path: Path) -> None:
    r, out, _ = runner(tmp_path)
    r.info("::add-mask::nope\n  ::warning::x\nbuild ##[stop-commands]tok")
    assert out.getvalue() == ": :add-mask::nope\n  : :warning::x\nbuild ## [stop-commands]tok\n"


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
    assert context.pr_number == 42
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


# --- text the action did not write never becomes a workflow command ----------------------------

_PIECES = st.sampled_from(
    [
        "::",
        "##[",
        "]",
        ":",
        "#",
        "[",
        " ",
        "\t",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\x85",
        "\x1c",
        "\u200b",
        "\r",
        "\n",
        "\r\n",
        "stop-commands",
        "add-mask",
        "warning",
        "error",
        "group",
        "tok",
        "name=x,",
        "%0A",
        "\ud800",
    ]
)
_SPACE = st.lists(st.sampled_from([" ", "\t", "\u00a0", "\u3000", "\x85", "\u200b"]), max_size=3)
_NAME = st.sampled_from(["add-mask", "stop-commands", "warning", "ERROR", "group", "tok"])
_COMMAND = st.builds(
    lambda before, space, name, v2, data: (
        f"{before}{''.join(space)}::{name}::{data}" if v2 else f"{before}##[{name}]{data}"
    ),
    st.sampled_from(["", "x ", "Step 3/5 : "]),
    _SPACE,
    _NAME,
    st.booleans(),
    st.sampled_from(["", "tok", "the-known-secret"]),
)
HOSTILE_TEXT = st.one_of(
    st.lists(st.one_of(_COMMAND, _PIECES), max_size=12).map("".join),
    st.lists(_PIECES, max_size=30).map("".join),
    st.text(max_size=200),
)


@given(HOSTILE_TEXT)
def test_no_printed_text_is_read_as_a_command_by_the_runner(text: str) -> None:
    r = Runner({"GITHUB_ACTIONS": "true"}, io.StringIO(), io.StringIO())
    r.mask("the-known-secret")
    r.info(text)
    r.result(text)
    r.warning(text)
    r.error(text)
    with r.group(text):
        r.info(text)
    out = r.stdout.getvalue()
    result = replay([out])
    assert foreign_commands(result, masks={"the-known-secret"}) == []
    assert not result.stopped
    assert r.stderr.getvalue() == ""


def test_the_attacks_of_the_issue_are_printed_as_text() -> None:
    r, out, _ = runner(Path("."))
    for line in (
        'LABEL note="##[stop-commands]tok"',
        "   ::add-mask::x",
        "\u3000::stop-commands::tok",
        "Step 3/5 ##[group]fake",
    ):
        r.info(line)
    result = replay([out.getvalue()])
    assert result.commands == []
    assert 'LABEL note="## [stop-commands]tok"' in result.log


def test_a_secret_echoed_back_encoded_is_scrubbed_too(tmp_path: Path) -> None:
    """A hostile model server can send the key it was given back base64- or URL-encoded; the
    runner masks those forms, and so do our own scrubbing (summary, local log)."""
    import base64
    import urllib.parse

    r, out, _ = runner(tmp_path)
    key = "k3y+with/odd=chars&more-than-enough"
    r.mask(key)
    for prefix in ("", "x", "xy"):  # every base64 alignment
        echoed = base64.b64encode((prefix + key).encode()).decode()
        r.info(f"echo {echoed} {urllib.parse.quote(key, safe='')}")
        r.add_summary(f"| body | {echoed} |\n")
    text = out.getvalue() + (tmp_path / "sum").read_text()
    assert urllib.parse.quote(key, safe="") not in text
    for shift in range(3):
        inner = base64.b64encode(key.encode()[shift:]).decode()[2:-2]
        assert inner not in text

"""The harness's own rules, so that a green workflow test means what it says."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tools.runner.action import ActionHarness, parse_file_commands
from tools.runner.log import Masker


def test_file_commands_follow_the_runners_heredoc_rules() -> None:
    text = "a=1\n\nb<<EOF\nline one\nline two\nEOF\nc<<X\n\nX\n"
    assert parse_file_commands(text) == {"a": "1", "b": "line one\nline two", "c": ""}
    with pytest.raises(ValueError, match="Matching delimiter not found"):
        parse_file_commands("a<<EOF\nvalue\n")
    with pytest.raises(ValueError, match="Invalid format"):
        parse_file_commands("just text\n")
    # A delimiter with a trailing \\r does not match (Linux: only \\n ends a line).
    with pytest.raises(ValueError, match="Matching delimiter not found"):
        parse_file_commands("a<<EOF\nvalue\nEOF\r\n")


def test_the_masker_masks_lines_and_encoded_forms() -> None:
    masker = Masker()
    masker.add("line-one-secret\nline-two-secret")
    encoded = base64.b64encode(b"line-one-secret").decode()
    masked = masker.mask(f"a line-two-secret b {encoded} c line-one-secret")
    assert "secret" not in masked.replace("***", "")
    assert masked.count("***") == 3


def harness_reading(output: str, outputs: str, known: list[str], tmp_path: Path) -> object:
    files = {name: tmp_path / name for name in ("set_output", "step_summary")}
    files["set_output"].write_text(outputs)
    files["step_summary"].write_text("")
    completed = subprocess.CompletedProcess(["x"], 0, stdout=output, stderr="")
    return ActionHarness.__new__(ActionHarness)._read(completed, files, known, None)


def test_a_secret_printed_before_its_add_mask_is_a_leak(tmp_path: Path) -> None:
    result = harness_reading(
        "token is s3cr3t-token-value\n::add-mask::s3cr3t-token-value\nagain s3cr3t-token-value\n",
        "",
        ["s3cr3t-token-value"],
        tmp_path,
    )
    assert len(result.leaks) == 1  # type: ignore[attr-defined]
    assert result.log[-1] == "again ***"  # type: ignore[attr-defined]


def test_a_masked_secret_is_not_a_leak(tmp_path: Path) -> None:
    result = harness_reading(
        "::add-mask::s3cr3t-token-value\nusing s3cr3t-token-value\n",
        "",
        ["s3cr3t-token-value"],
        tmp_path,
    )
    assert result.leaks == []  # type: ignore[attr-defined]


def test_an_unmasked_key_output_is_a_leak_even_if_never_printed(tmp_path: Path) -> None:
    result = harness_reading("hello\n", "primary-key<<D\nkey-value-123\nD\n", [], tmp_path)
    assert result.leaks == ["key-… (a key output) was never masked"]  # type: ignore[attr-defined]


def test_job_outputs_holding_a_masked_value_are_dropped(tmp_path: Path) -> None:
    result = harness_reading(
        "::add-mask::key-value-123\n",
        "primary-key<<D\nkey-value-123\nD\nname=models\n",
        [],
        tmp_path,
    )
    assert result.job_outputs_dropped == ["primary-key"]  # type: ignore[attr-defined]


def test_inputs_keep_hyphens_and_take_action_yml_defaults() -> None:
    harness = ActionHarness("unused")
    inputs = harness.inputs({"subscription-id": "sub", "extra input": "x"})
    assert inputs["INPUT_SUBSCRIPTION-ID"] == "sub"
    assert inputs["INPUT_COMMAND"] == "deploy"
    assert inputs["INPUT_AUDIENCE"] == "api://AzureADTokenExchange"
    assert inputs["INPUT_EXTRA_INPUT"] == "x"

"""smoke_test.from: none is allowed only where live traffic judges the new deployment."""

from __future__ import annotations

from tests.unit.deployfiles import VALID, Workspace, replace_line
from tests.unit.test_cli_validate import run

BASE = VALID.split("environments:")[0]
NONE = replace_line(
    BASE, "  request: sample-request.json", "  request: sample-request.json\n  from: none"
)


def with_rollout(lines: str) -> str:
    return replace_line(NONE, "  strategy: blue-green", lines)


def test_from_none_without_analysis_is_refused_at_its_line(workspace: Workspace) -> None:
    [(line, column, message)] = workspace.errors(NONE)
    assert (line, column) == (BASE.count("\n") + 1, 9)
    assert message.startswith("smoke_test.from is none: no smoke test is sent")
    assert "set rollout.analysis with strategy canary (a step below 100)" in message


def test_from_none_with_analysis_but_blue_green_is_refused(workspace: Workspace) -> None:
    text = with_rollout("  strategy: blue-green\n  analysis: {}")
    assert len(workspace.errors(text)) == 1


def test_from_none_with_a_judged_canary_validates(workspace: Workspace) -> None:
    report = workspace.validate(
        with_rollout("  strategy: canary\n  canary_steps: [10, 100]\n  analysis: {}")
    )
    assert report.valid and report.deploy_file is not None
    smoke = report.deploy_file.select(None).smoke_test
    assert smoke is not None and smoke.source == "none"
    shown = run("validate", "--config", "deploy.yml", cwd=workspace.root)
    assert "canary 10/100, analysis, smoke test: none" in shown.stdout, shown.stderr


def test_from_none_with_a_judged_shadow_stage_validates(workspace: Workspace) -> None:
    shadow = "  strategy: blue-green\n  analysis: {}\n  shadow: {percent: 10, seconds: 60}"
    assert workspace.errors(with_rollout(shadow)) == []


def test_public_network_access_takes_only_enabled_or_disabled(workspace: Workspace) -> None:
    text = replace_line(BASE, "  auth_mode: key", "  auth_mode: key\n  public_network_access: off")
    [(line, _, message)] = workspace.errors(text)
    assert line == 5 and "public_network_access" in message


def test_from_none_with_agreement_is_refused_at_agreement(workspace: Workspace) -> None:
    workspace.write("agreement/one.json", '{"data": [[1, 2]]}')
    judged = "  strategy: canary\n  canary_steps: [10, 100]\n  analysis: {}\n"
    text = with_rollout(judged + "  agreement: {requests: agreement, compare: {exact: true}}")
    [(line, _, message)] = workspace.errors(text)
    assert text.splitlines()[line - 1].startswith("  agreement:")
    assert "sends its requests from the runner to both deployments" in message

"""deployment.autoscale in the deploy file: the spec it builds, and the checks with file:line."""

from __future__ import annotations

from deployer.diagnostics import Severity
from deployer.spec.model import Direction
from tests.unit.deployfiles import VALID, Workspace

AUTOSCALE = """\
  autoscale:
    min_instances: 1
    max_instances: 4
    rules:
      - {metric: RequestsPerMinute, operator: GreaterThan, threshold: 100, direction: out}
      - {metric: RequestsPerMinute, operator: LessThan, threshold: 20, direction: in,
         window_minutes: 10}
"""


def with_autoscale(block: str = AUTOSCALE) -> str:
    marker = "  inference_config:\n"
    return VALID.replace(marker, block + marker, 1)


def problems(workspace: Workspace, text: str, environment: str | None = None) -> list[str]:
    report = workspace.validate(text, environment)
    return [f"{p.severity.value} {p.line}: {p.message}" for p in report.problems]


def test_the_block_builds_the_spec_with_defaults(workspace: Workspace) -> None:
    report = workspace.validate(with_autoscale(), "production")
    assert not [p for p in report.problems if p.severity is Severity.ERROR], report.problems
    assert report.deploy_file is not None
    spec = report.deploy_file.select("production")
    autoscale = spec.deployment.autoscale
    assert autoscale is not None
    assert (autoscale.min_instances, autoscale.max_instances) == (1, 4)
    assert autoscale.default_instances == 3, "production's instance_count"
    out, scale_in = autoscale.rules
    assert out.direction is Direction.OUT and out.window_minutes == 5
    assert (out.change_count, out.cooldown_minutes, out.statistic) == (1, 5, "Average")
    assert scale_in.window_minutes == 10


def test_default_outside_the_bounds_is_an_error_at_its_line(workspace: Workspace) -> None:
    text = with_autoscale(AUTOSCALE.replace("    max_instances: 4\n", "    max_instances: 2\n"))
    found = problems(workspace, text, "production")
    assert any(
        "deployment.instance_count (3) must lie between min_instances (1) and max_instances (2)"
        in message
        for message in found
    ), found


def test_a_change_count_above_the_room_is_refused(workspace: Workspace) -> None:
    text = with_autoscale(AUTOSCALE.replace("direction: out}", "direction: out, change_count: 4}"))
    found = problems(workspace, text)
    assert any("change_count is 4, more than max_instances - min_instances (3)" in m for m in found)
    assert any(m.startswith("error 18:") for m in found), found


def test_one_way_rules_and_no_margin_are_warnings(workspace: Workspace) -> None:
    block = (
        "  autoscale:\n    min_instances: 1\n    max_instances: 1\n    rules:\n"
        "      - {metric: CpuUtilizationPercentage, operator: GreaterThan, threshold: 70, "
        "direction: out}\n"
    )
    report = workspace.validate(with_autoscale(block))
    warnings = [p.message for p in report.problems if p.severity is Severity.WARNING]
    assert any("has no scale-in rule" in m for m in warnings), warnings
    assert any("equals min_instances (1): autoscale can never scale" in m for m in warnings)
    block = block.replace("max_instances: 1", "max_instances: 60")
    report = workspace.validate(with_autoscale(block))
    assert any("allows 50 instances per deployment" in p.message for p in report.problems)


def test_unknown_metrics_and_operators_are_refused(workspace: Workspace) -> None:
    text = with_autoscale(AUTOSCALE.replace("operator: GreaterThan", "operator: '>'"))
    assert any("operator" in m and m.startswith("error") for m in problems(workspace, text))

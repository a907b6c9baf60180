"""Whether the smoke test is sent from the runner to a private endpoint, decided before anything
changes: probed where the endpoint is already private; judged by live traffic alone from
outside where the rollout can be; refused with the fix where nothing would judge it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import pytest

from deployer.errors import PolicyError
from deployer.github.runner import Runner
from deployer.reach import decide_smoke, explained, rollback_smoke
from deployer.smoke import SmokeResult
from deployer.spec.model import DeploySpec
from deployer.state import EndpointState
from tests.unit.deployfiles import VALID, Workspace, replace_line
from tests.unit.test_plan import deployment, endpoint

BASE = VALID.split("environments:")[0]
PRIVATE = replace_line(
    BASE, "  auth_mode: key", "  auth_mode: key\n  public_network_access: disabled"
)
CANARY = replace_line(
    PRIVATE,
    "  strategy: blue-green",
    "  strategy: canary\n  canary_steps: [10, 100]\n  analysis: {}",
)


@dataclass
class Run:
    spec: DeploySpec
    log: io.StringIO = field(default_factory=io.StringIO)
    smoke_from_runner: bool = True
    endpoint_name: str = "ep"
    runner: Runner = field(init=False)

    def __post_init__(self) -> None:
        self.runner = Runner({}, self.log, self.log)


def run_of(workspace: Workspace, text: str) -> Run:
    report = workspace.validate(text)
    assert report.deploy_file is not None, report.problems
    return Run(report.deploy_file.select(None))


def private(traffic: dict[str, int] | None = None) -> EndpointState:
    serving = endpoint({"blue": 100} if traffic is None else traffic, deployment("blue"))
    return replace(serving, public_network_access="disabled")


def outside(uri: str) -> str | None:
    return "HTTP 403, refused"


def inside(uri: str) -> str | None:
    return None


def test_inside_the_network_the_smoke_test_is_sent_from_the_runner(workspace: Workspace) -> None:
    run = run_of(workspace, PRIVATE)
    decide_smoke(run, private(), inside)
    assert run.smoke_from_runner
    assert "this runner reaches private endpoint ep" in run.log.getvalue()


def test_outside_with_nothing_else_to_judge_it_is_refused_with_the_fix(
    workspace: Workspace,
) -> None:
    run = run_of(workspace, PRIVATE)
    with pytest.raises(PolicyError) as refused:
        decide_smoke(run, private(), outside)
    assert (
        "this runner cannot reach https://x/ep/score (HTTP 403, refused)" in refused.value.message
    )
    assert "self-hosted runner inside the workspace's virtual network" in (refused.value.hint or "")


def test_outside_with_a_judged_canary_gates_on_analysis_alone_and_says_so(
    workspace: Workspace,
) -> None:
    run = run_of(workspace, CANARY)
    decide_smoke(run, private(), outside)
    assert not run.smoke_from_runner
    said = run.log.getvalue()
    assert said.startswith("warning: ") and "judged by rollout.analysis alone" in said
    assert "nothing serves yet" not in said


def test_outside_the_warning_says_the_load_is_not_sent_either(workspace: Workspace) -> None:
    run = run_of(workspace, CANARY.replace("analysis: {}", "analysis: {load: {}}"))
    decide_smoke(run, private(), outside)
    assert "rollout.analysis.load is not sent either" in run.log.getvalue()


def test_outside_with_agreement_is_refused_rather_than_skipped(workspace: Workspace) -> None:
    folder = workspace.root / "agreement"
    folder.mkdir(exist_ok=True)
    (folder / "one.json").write_text('{"data": [[1, 2]]}')
    agreement = "\n  agreement: {requests: agreement, compare: {exact: true}}"
    run = run_of(workspace, CANARY.replace("analysis: {}", "analysis: {}" + agreement))
    with pytest.raises(PolicyError) as refused:
        decide_smoke(run, private(), outside)
    assert "rollout.agreement sends its requests from the runner" in refused.value.message
    assert run.smoke_from_runner  # nothing decided: the run stops here


def test_outside_on_an_endpoint_nothing_serves_says_the_first_one_is_unjudged(
    workspace: Workspace,
) -> None:
    run = run_of(workspace, CANARY)
    decide_smoke(run, private({}), outside)
    assert "nothing serves yet, so the first deployment takes the traffic" in run.log.getvalue()


def test_a_new_private_endpoint_cannot_be_probed_and_the_log_says_what_happens(
    workspace: Workspace,
) -> None:
    run = run_of(workspace, PRIVATE)
    decide_smoke(run, None, outside)
    assert run.smoke_from_runner
    assert "whether this runner reaches it is known only then" in run.log.getvalue()


def test_from_none_sends_nothing_and_probes_nothing(workspace: Workspace) -> None:
    text = replace_line(
        CANARY, "  request: sample-request.json", "  request: sample-request.json\n  from: none"
    )
    run = run_of(workspace, text)

    def never(uri: str) -> str | None:
        raise AssertionError("probed")

    decide_smoke(run, private(), never)
    assert not run.smoke_from_runner


def test_a_public_endpoint_is_not_probed(workspace: Workspace) -> None:
    run = run_of(workspace, BASE)

    def never(uri: str) -> str | None:
        raise AssertionError("probed")

    decide_smoke(run, private(), never)
    assert run.smoke_from_runner


def test_a_refused_smoke_test_of_a_private_endpoint_says_why(workspace: Workspace) -> None:
    refused = SmokeResult(False, 2, 403, 3.0, 'expected HTTP 200: {"message": "…"}')
    said = explained(refused, run_of(workspace, PRIVATE).spec)
    assert said.detail.startswith(refused.detail)
    assert "this runner is likely outside the workspace's network" in said.detail
    model_error = replace(refused, status=424)
    assert explained(model_error, run_of(workspace, PRIVATE).spec) == model_error
    assert explained(refused, run_of(workspace, BASE).spec) == refused


def test_a_rollback_from_outside_goes_back_without_a_smoke_test(workspace: Workspace) -> None:
    run = run_of(workspace, PRIVATE)
    rollback_smoke(run, private(), outside)
    assert not run.smoke_from_runner
    assert "the rollback goes back to the kept deployment without a smoke test" in (
        run.log.getvalue()
    )
    inside_run = run_of(workspace, PRIVATE)
    rollback_smoke(inside_run, private(), inside)
    assert inside_run.smoke_from_runner

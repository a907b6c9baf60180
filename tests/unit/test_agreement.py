"""rollout.agreement in the executor, against the in-memory Azure: the request set sent to the
known-good and to the candidate (through the fake scorer, as through the
`azureml-model-deployment` header) before traffic moves and after each canary step and the
shadow stage; a candidate whose labels flip is rolled back like an analysis breach, production
untouched; a first deploy is not judged; and what the models answered stays text in the
summary and the log."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from deployer.agreement import Agreement, AgreementVerdict, Answer, Request
from deployer.agreement_report import agreement_json, agreement_markdown
from deployer.errors import RolloutFailed
from deployer.github.runner import Runner
from deployer.spec.model import AgreementSpec, CompareKind, CompareRule, ShadowSpec, Strategy
from tests.unit.test_execute import World, first

Model = Callable[[dict[str, Any]], Any]
LABEL = CompareRule(CompareKind.POINTER, pointer="/label")
REQUESTS = tuple(Request(f"{n:03}.json", json.dumps({"x": n}).encode()) for n in range(100))


def parity(request: dict[str, Any]) -> Any:
    x = request["x"]
    return {"label": "even" if x % 2 == 0 else "odd", "score": x / 100}


def flips_every_20th(request: dict[str, Any]) -> Any:
    answer = parity(request)
    if request["x"] % 20 == 0:
        answer["label"] = "odd"
    return answer


def drifts(request: dict[str, Any]) -> Any:
    answer = parity(request)
    answer["score"] += 0.0004
    return answer


@dataclass
class Models:
    """The fake endpoint's deployments answering by the image they run (`x` → answer), each
    request timed at `latency_ms`; `log` keeps which deployment got which request."""

    world: World
    by_image: dict[str, Model]
    latency_ms: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def score(self, deployment: str, body: bytes, timeout: float) -> Answer:
        self.log.append(deployment)
        image = self.world.image_of(deployment)
        answer = self.by_image[image](json.loads(body))
        if isinstance(answer, Answer):
            return answer
        latency = self.latency_ms.get(image, 10.0)
        return Answer(200, json.dumps(answer).encode(), latency)


def agreeing(
    world: World,
    rule: CompareRule = LABEL,
    min_agreement: float = 0.98,
    **by_image: Model,
) -> Models:
    spec = AgreementSpec(requests=(), compare=rule, min_agreement=min_agreement)
    world.agreement = Agreement(spec, REQUESTS)
    models = Models(world, {f"app@sha256:{k[1:]}": v for k, v in by_image.items()})
    world.scoring = models
    return models


def turning(world: World, when: Callable[[], bool]) -> None:
    """v2 answers like v1 until `when()`, then flips every 20th label."""

    def model(request: dict[str, Any]) -> Any:
        return flips_every_20th(request) if when() else parity(request)

    agreeing(world, v1=parity, v2=model)


def test_a_first_deploy_is_not_judged_and_does_not_fail() -> None:
    world = World(strategy=Strategy.CANARY)
    models = agreeing(world, v1=parity)
    world.run("app@sha256:1")
    world.assert_converged("app@sha256:1")
    assert world.agreement is not None
    (check,) = world.agreement.checks
    assert check.verdict is AgreementVerdict.NOT_JUDGED and "first deploy" in check.why
    assert models.log == []  # nothing to compare with: nothing sent
    assert json.loads(agreement_json(world.agreement))["verdict"] == "not judged"


def test_a_replaced_deployment_is_not_judged_either() -> None:
    world = first(World(strategy=Strategy.REPLACE))
    world.agreement = Agreement(AgreementSpec(requests=()), REQUESTS)
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    assert world.agreement.verdict() == "not judged"
    assert json.loads(agreement_json(world.agreement))["verdict"] == "not judged"


def test_labels_flipping_for_5_percent_are_stopped_before_any_traffic_moves() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    models = agreeing(world, v1=parity, v2=flips_every_20th)
    models.latency_ms["app@sha256:2"] = 30.0
    with pytest.raises(RolloutFailed) as failed:
        world.run("app@sha256:2")
    message = str(failed.value)
    assert "the answers of green disagree with blue's (before traffic: 95 of 100 agree, 95.0%" in (
        message
    )
    assert "min_agreement 98.0%" in message and '000.json: /label: "even" → "odd"' in message
    assert "Rolled back: blue still serves 100% of traffic; green was removed" in message
    world.assert_converged("app@sha256:1")
    assert all(not traffic.get("green") for traffic, _ in world.azure.history)
    # through the deployment header, one request to each, the known-good's first
    assert models.log[:4] == ["blue", "green", "blue", "green"] and len(models.log) == 200
    assert world.agreement is not None
    (check,) = world.agreement.checks
    assert (check.compared, check.agreed, len(check.examples)) == (100, 95, 5)
    assert [e.request for e in check.examples] == ["000.json", "020.json", "040.json",
                                                    "060.json", "080.json"]  # fmt: skip
    assert check.candidate_latency.p99_ms == 30 and check.known_good_latency.p50_ms == 10
    output = json.loads(agreement_json(world.agreement))
    assert output["verdict"] == "failed"
    assert output["checks"][0]["agreement"] == 0.95
    assert output["checks"][0]["disagreements"][0] == {
        "request": "000.json",
        "reason": '/label: "even" → "odd"',
        "known_good": '{"label": "even", "score": 0.0}',
        "candidate": '{"label": "odd", "score": 0.0}',
    }


def test_the_same_drift_passes_within_the_tolerance_at_every_canary_step() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    rule = CompareRule(CompareKind.TOLERANCE, absolute=0.001)
    agreeing(world, rule, 1.0, v1=parity, v2=drifts)
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    assert world.agreement is not None
    checks = world.agreement.checks
    assert [(c.stage, c.verdict, c.agreed) for c in checks] == [
        ("before traffic", AgreementVerdict.PASSED, 100),
        ("canary 10%", AgreementVerdict.PASSED, 100),
        ("canary 50%", AgreementVerdict.PASSED, 100),
    ]
    strict = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    agreeing(strict, CompareRule(), 1.0, v1=parity, v2=drifts)
    with pytest.raises(RolloutFailed, match=r"0 of 100 agree"):
        strict.run("app@sha256:2")


def test_a_candidate_that_changes_its_answers_once_it_serves_is_rolled_back_at_that_step() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    turning(world, lambda: world.endpoint.traffic.get("green", 0) > 0)
    with pytest.raises(RolloutFailed, match=r"canary 10%: 95 of 100 agree"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert [traffic.get("green", 0) for traffic, _ in world.azure.history] == [10, 0]
    assert world.agreement is not None
    assert [c.verdict for c in world.agreement.checks] == [
        AgreementVerdict.PASSED,
        AgreementVerdict.FAILED,
    ]


def test_the_shadow_stage_is_compared_before_any_live_traffic() -> None:
    world = first(World(strategy=Strategy.BLUE_GREEN))
    world.shadow = ShadowSpec(percent=20, seconds=1)
    turning(world, lambda: world.endpoint.mirror.get("green", 0) > 0)
    with pytest.raises(RolloutFailed, match=r"shadow 20%: 95 of 100 agree"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert all(not traffic.get("green") for traffic, _ in world.azure.history)
    assert world.endpoint.mirror == {}


def test_what_the_known_good_cannot_answer_is_not_compared_and_the_candidates_failures_count() -> (
    None
):
    world = first(World(strategy=Strategy.BLUE_GREEN))

    def old(request: dict[str, Any]) -> Any:
        return Answer(500, b'{"error": "boom"}', 5.0) if request["x"] < 10 else parity(request)

    def new(request: dict[str, Any]) -> Any:
        return (
            Answer(None, failure="no complete answer within 30 s")
            if request["x"] == 50
            else (parity(request))
        )

    agreeing(world, min_agreement=0.98, v1=old, v2=new)
    world.run("app@sha256:2")  # 89 of the 90 compared agree: 98.9%
    world.assert_converged("app@sha256:2")
    assert world.agreement is not None
    (check,) = world.agreement.checks
    assert (check.compared, check.agreed, check.skipped) == (90, 89, 10)
    assert check.verdict is AgreementVerdict.PASSED
    assert check.known_good_latency.failures == 10 and check.candidate_latency.failures == 1
    assert check.examples[0].reason == "no answer to compare: no complete answer within 30 s"
    assert check.examples[0].candidate == "(no complete answer within 30 s)"


def test_a_set_the_known_good_answers_none_of_fails_loudly() -> None:
    world = first(World(strategy=Strategy.BLUE_GREEN))
    broken: Model = lambda request: Answer(404, b"not found", 1.0)  # noqa: E731
    agreeing(world, v1=broken, v2=parity)
    with pytest.raises(RolloutFailed) as failed:
        world.run("app@sha256:2")
    assert "could not be judged (before traffic: none of the 100 requests" in str(failed.value)
    world.assert_converged("app@sha256:1")


def test_a_check_past_the_rollouts_timeout_stops_and_rolls_back() -> None:
    world = first(World(strategy=Strategy.BLUE_GREEN))

    def slow(request: dict[str, Any]) -> Any:
        world.clock.elapsed += 1.0  # each answer takes a second of the rollout's 60
        return parity(request)

    agreeing(world, v1=slow, v2=slow)
    with pytest.raises(RolloutFailed, match=r"comparing the answers .* did not finish within"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert world.agreement is not None and world.agreement.checks == []


HOSTILE = "::error::pwned\n| <img src=x onerror=alert(1)> [click](https://evil.example) ```"


def test_what_the_models_answered_stays_text_in_the_summary_and_the_log() -> None:
    world = first(World(strategy=Strategy.BLUE_GREEN))
    world.log = io.StringIO()
    agreeing(
        world,
        CompareRule(),
        v1=parity,
        v2=lambda request: {"label": HOSTILE, "x": request["x"]},
    )
    with pytest.raises(RolloutFailed) as failed:
        world.run("app@sha256:2")
    summary = agreement_markdown(world.agreement)
    # every character that could start markup is escaped: no tag, link or code span forms
    assert not re.search(r"(?<!\\)[<\[`]", summary.replace("<code>", "").replace("</code>", ""))
    rows = [line for line in summary.splitlines() if ".json" in line]
    assert len(rows) == 5
    for row in rows:  # every row keeps its four cells: no answer closes one
        assert row.count("|") == 5
    # On GitHub the failure is an ::error:: annotation: what the model said is its data.
    output = io.StringIO()
    Runner({"GITHUB_ACTIONS": "true"}, output, output).error(str(failed.value))
    (line,) = output.getvalue().splitlines()
    assert line.startswith("::error title=azureml-deploy::the answers of green disagree")

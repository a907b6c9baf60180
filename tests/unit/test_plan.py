"""The planner: desired + observed → steps, with no I/O."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from deployer.errors import PolicyError
from deployer.plan import Desired, make_plan
from deployer.spec.model import Strategy
from deployer.state import DeploymentState, EndpointState, ProvisioningState, settings_hash
from deployer.steps import PlanStep, Provision, Retire, SetTraffic, kind
from deployer.tags import Owner, Record, deployment_tags
from tests.unit.fakes import NOW
from tests.unit.fakes import settings as make_settings

OWNER = Owner(repository="octo-org/octo-repo", environment="production")
SETTINGS = make_settings("reg/app@sha256:" + "a" * 64)


def desired(**changes: object) -> Desired:
    values: dict[str, object] = {
        "endpoint": "ep",
        "auth_mode": "key",
        "settings": SETTINGS,
        "strategy": Strategy.BLUE_GREEN,
    }
    values.update(changes)
    return Desired(**values)  # type: ignore[arg-type]


def deployment(
    name: str,
    image: str = SETTINGS.image,
    settings: str | None = None,
    state: ProvisioningState = ProvisioningState.SUCCEEDED,
) -> DeploymentState:
    tags = deployment_tags(OWNER, image, settings or settings_hash(SETTINGS))
    return DeploymentState(name, state, "Standard_DS3_v2", 1, MappingProxyType(tags))


def foreign(name: str) -> DeploymentState:
    """A deployment someone created by hand (in studio, with the CLI): no ownership tags."""
    return DeploymentState(name, ProvisioningState.SUCCEEDED, "Standard_DS3_v2", 1)


def endpoint(
    traffic: dict[str, int], *deployments: DeploymentState, record: Record | None = None
) -> EndpointState:
    return EndpointState(
        "ep",
        ProvisioningState.SUCCEEDED,
        "key",
        "https://x/ep/score",
        None,
        MappingProxyType(traffic),
        MappingProxyType((record or Record()).tags()),
        deployments,
    )


def kinds(plan: object) -> list[str]:
    return [kind(step) for step in plan.steps if kind(step) != "record"]  # type: ignore[attr-defined]


def of(plan: object, step_type: type[PlanStep]) -> list[PlanStep]:
    return [step for step in plan.steps if isinstance(step, step_type)]  # type: ignore[attr-defined]


def test_first_deploy_creates_endpoint_and_blue() -> None:
    plan = make_plan(desired(image_pending=True), None, NOW)
    assert kinds(plan) == [
        "create-endpoint",
        "build-image",
        "create-deployment",
        "smoke-test",
        "set-traffic",
    ]
    assert plan.target == "blue" and plan.previous is None
    assert plan.traffic_after == {"blue": 100}


def test_same_image_and_settings_at_100_percent_is_a_noop() -> None:
    plan = make_plan(desired(), endpoint({"blue": 100}, deployment("blue")), NOW)
    assert plan.is_noop
    assert plan.target == "blue"


@pytest.mark.parametrize(
    "observed",
    [
        endpoint({"blue": 100}, deployment("blue", image="reg/app@sha256:" + "b" * 64)),
        endpoint({"blue": 100}, deployment("blue", settings="different")),
        endpoint({"blue": 100}, deployment("blue", state=ProvisioningState.FAILED)),
        endpoint(
            {"blue": 50, "green": 50},
            deployment("blue"),
            deployment("green"),
            record=Record(known_good="blue", candidate="green"),
        ),
    ],
)
def test_anything_different_is_not_a_noop(observed: EndpointState) -> None:
    assert not make_plan(desired(), observed, NOW).is_noop


def test_a_pending_image_is_never_a_noop() -> None:
    plan = make_plan(desired(image_pending=True), endpoint({"blue": 100}, deployment("blue")), NOW)
    assert not plan.is_noop


def test_blue_green_alternates_and_retires_the_old() -> None:
    changed = desired(settings=replace(SETTINGS, instance_count=2))
    plan = make_plan(changed, endpoint({"blue": 100}, deployment("blue")), NOW)
    assert kinds(plan) == ["create-deployment", "smoke-test", "set-traffic", "delete-deployment"]
    assert [step.deployment for step in of(plan, Provision)] == ["green"]
    assert [dict(step.traffic) for step in of(plan, SetTraffic)] == [{"blue": 0, "green": 100}]
    assert [step.deployment for step in of(plan, Retire)] == ["blue"]
    assert plan.previous == "blue" and plan.target == "green"
    back = make_plan(changed, endpoint({"green": 100}, deployment("green")), NOW)
    assert back.target == "blue"


def test_keep_previous_keeps_the_old_deployment_at_zero() -> None:
    plan = make_plan(
        desired(keep_previous=True, image_pending=True),
        endpoint({"blue": 100}, deployment("blue")),
        NOW,
    )
    assert of(plan, Retire) == []
    assert plan.traffic_after == {"blue": 0, "green": 100}
    final = of(plan, SetTraffic)[-1]
    assert final.record.kept == "blue" and final.record.known_good == "green"


def test_a_leftover_zero_percent_deployment_is_updated_not_recreated() -> None:
    observed = endpoint({"blue": 100, "green": 0}, deployment("blue"), deployment("green"))
    plan = make_plan(desired(image_pending=True), observed, NOW)
    (provision,) = of(plan, Provision)
    assert provision == Provision("green", create=False)


def test_canary_steps_with_watches_and_smoke_tests() -> None:
    plan = make_plan(
        desired(
            strategy=Strategy.CANARY,
            canary_steps=(10, 50, 100),
            step_wait_seconds=30,
            image_pending=True,
        ),
        endpoint({"blue": 100}, deployment("blue")),
        NOW,
    )
    assert kinds(plan) == [
        "build-image",
        "create-deployment",
        "smoke-test",
        "set-traffic",
        "watch",
        "set-traffic",
        "watch",
        "set-traffic",
        "delete-deployment",
    ]
    shares = [dict(step.traffic) for step in of(plan, SetTraffic)]
    assert shares == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]


def test_canary_on_a_first_deploy_is_all_at_once() -> None:
    plan = make_plan(desired(strategy=Strategy.CANARY), None, NOW)
    shares = [dict(step.traffic) for step in of(plan, SetTraffic)]
    assert shares == [{"blue": 100}]


def test_replace_updates_in_place() -> None:
    plan = make_plan(
        desired(strategy=Strategy.REPLACE, image_pending=True),
        endpoint({"blue": 100}, deployment("blue")),
        NOW,
    )
    assert kinds(plan) == ["build-image", "update-deployment", "smoke-test", "set-traffic"]
    assert plan.target == "blue"


def test_without_a_smoke_test_there_is_no_smoke_step() -> None:
    plan = make_plan(desired(smoke_test=False), None, NOW)
    assert "smoke-test" not in kinds(plan)


def test_the_plan_as_json() -> None:
    data = make_plan(desired(image_pending=True), None, NOW).as_dict()
    assert data["steps"][0] == {"step": "create-endpoint", "description": "create the endpoint"}
    assert data["steps"][1] == {"step": "build-image", "description": "build and push the image"}
    assert data["traffic_after"] == {"blue": 100}


def test_settings_hash_ignores_the_image() -> None:
    other = replace(SETTINGS, image="reg/other@sha256:" + "c" * 64)
    assert settings_hash(other) == settings_hash(SETTINGS)
    more = replace(SETTINGS, instance_count=3)
    assert settings_hash(more) != settings_hash(SETTINGS)


def test_the_settings_hash_is_the_one_earlier_versions_wrote() -> None:
    """Routes and probes hash as lists, as when they were tuples: a deployment made by an
    earlier version is still recognised as unchanged (no redeploy on upgrade)."""
    assert settings_hash(SETTINGS) == "841d20a4a38af0e8"  # what 0.1 computed for these


# --- deployments azureml-deploy did not create -------------------------------------------------


def test_a_deployment_made_by_hand_at_zero_percent_is_left_alone() -> None:
    observed = endpoint(
        {"blue": 100, "green": 0}, deployment("blue", image="old"), foreign("green")
    )
    plan = make_plan(desired(), observed, NOW)
    assert plan.left_alone == ("green",)
    assert plan.target not in ("blue", "green")
    touched = {getattr(step, "deployment", None) for step in plan.steps}
    assert "green" not in touched
    assert all(step.traffic.get("green", 0) == 0 for step in of(plan, SetTraffic))
    assert plan.as_dict()["left_alone"] == ["green"]


def test_a_deployment_made_by_hand_is_never_the_one_deleted() -> None:
    """Before: the human's deployment had most traffic, so it was planned for deletion as the
    'old' one while the action's own idle deployment stayed."""
    observed = endpoint(
        {"blue": 100, "manual": 0}, deployment("blue", image="old"), foreign("manual")
    )
    plan = make_plan(desired(), observed, NOW)
    deleted = [step.deployment for step in of(plan, Retire)]
    assert deleted == ["blue"]


def test_traffic_on_a_deployment_made_by_hand_is_refused_with_the_fix() -> None:
    observed = endpoint({"manual": 100}, foreign("manual"))
    with pytest.raises(PolicyError) as refused:
        make_plan(desired(), observed, NOW)
    assert "manual 100%" in refused.value.message
    assert refused.value.hint is not None and "0%" in refused.value.hint


def test_replace_never_updates_a_deployment_made_by_hand() -> None:
    observed = endpoint({"blue": 0}, foreign("blue"))
    plan = make_plan(desired(strategy=Strategy.REPLACE), observed, NOW)
    assert plan.target != "blue"
    assert of(plan, Provision)[0].create


def test_a_new_egress_setting_is_a_new_deployment_not_an_update_of_the_idle_one() -> None:
    """Azure refuses to change egress_public_network_access on an existing deployment
    (concept-secure-online-endpoint.md): the idle green is not reused, and the plan says why."""
    observed = endpoint({"blue": 100, "green": 0}, deployment("blue"), deployment("green"))
    private = replace(SETTINGS, egress_public_network_access="disabled")
    plan = make_plan(desired(settings=private), observed, NOW)
    [provision] = of(plan, Provision)
    assert provision == Provision("blue-2", create=True)
    assert {step.deployment for step in of(plan, Retire)} == {"blue", "green"}
    assert any(
        note.startswith("egress_public_network_access cannot be updated in place (green has")
        and note.endswith("new deployment blue-2")
        for note in plan.notes
    )

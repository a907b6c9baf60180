"""endpoint.public_network_access: set when the endpoint is created, updated when the deploy
file changes it, shown in the plan."""

from __future__ import annotations

from dataclasses import replace

from deployer.plan import make_plan
from deployer.state import EndpointState
from deployer.steps import CreateEndpoint, Mark
from tests.unit.fakes import NOW
from tests.unit.test_plan import SETTINGS, deployment, desired, endpoint


def serving() -> EndpointState:
    return endpoint({"blue": 100}, deployment("blue"))


def test_a_new_private_endpoint_is_created_private_and_the_plan_says_so() -> None:
    plan = make_plan(desired(public_network_access="disabled"), None, NOW)
    create = plan.steps[0]
    assert isinstance(create, CreateEndpoint)
    assert create.public_network_access == "disabled"
    assert create.describe() == "create the endpoint, public network access disabled"


def test_disabling_public_access_of_a_serving_endpoint_is_its_only_change() -> None:
    plan = make_plan(desired(public_network_access="disabled"), serving(), NOW)
    [mark] = plan.steps
    assert isinstance(mark, Mark)
    assert mark.change is not None and mark.change.public_network_access == "disabled"
    assert mark.describe() == (
        "record the run on the endpoint; update the endpoint's public network access (to disabled)"
    )


def test_the_same_setting_in_another_case_is_no_change() -> None:
    observed = replace(serving(), public_network_access="disabled")
    plan = make_plan(desired(public_network_access="Disabled"), observed, NOW)
    assert plan.is_noop


def test_enabling_it_again_comes_with_the_rollout() -> None:
    observed = replace(serving(), public_network_access="disabled")
    new = replace(SETTINGS, image="reg/app@sha256:" + "b" * 64)
    plan = make_plan(desired(settings=new), observed, NOW)
    first = plan.steps[0]
    assert isinstance(first, Mark) and first.change is not None
    assert first.change.public_network_access == "enabled"


def test_the_executor_disables_public_access_of_a_serving_endpoint_and_leaves_it() -> None:
    from deployer.plan import Desired, Plan
    from tests.unit.test_execute import World, first

    def private(wanted: Desired, observed: EndpointState | None, now: object) -> Plan:
        return make_plan(replace(wanted, public_network_access="disabled"), observed, NOW)

    world = first(World())
    world.run("app@sha256:1", planner=private)
    assert world.endpoint.public_network_access == "disabled"
    assert world.serving() == {"blue": 100}
    again, outcome = world.run("app@sha256:1", planner=private)
    assert again.is_noop and outcome is None

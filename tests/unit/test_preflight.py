"""The preflight: what the plan provisions, against the family quota and Azure's limits,
before anything is built or changed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deployer.errors import PreflightFailed
from deployer.plan import make_plan
from deployer.preflight import check, family_usage
from deployer.spec.model import Strategy
from deployer.state import Usage
from tests.unit.fakes import NOW
from tests.unit.test_plan import SETTINGS, deployment, desired, endpoint

FAMILY = "Microsoft.MachineLearningServices/vmFamily/usages"


def dsv2(used: int, limit: int) -> Usage:
    return Usage(
        "standardDSv2Family", "/x/usages/standardDSv2Family", FAMILY, used, limit, "eastus"
    )


def test_a_first_deploy_needs_the_reserve_and_fails_with_the_numbers() -> None:
    two = replace(SETTINGS, instance_count=2)  # 2 x DS3_v2 (4 cores): ceil(2.4) = 3 -> 12
    plan = make_plan(desired(settings=two), None, NOW)
    with pytest.raises(PreflightFailed) as caught:
        check(plan, two, None, [dsv2(used=14, limit=20)], 0)
    assert caught.value.message.startswith(
        "deployment blue needs 12 cores of standardDSv2Family in eastus, 6 free (quota 20, used 14)"
    )
    assert "ceil(1.2 x 2) = 3 instances" in caught.value.message
    assert caught.value.hint is not None and "request more standardDSv2Family quota" in (
        caught.value.hint
    )
    assert check(plan, two, None, [dsv2(used=8, limit=20)], 0) == []


def test_blue_green_counts_the_new_deployment_beside_the_serving_one() -> None:
    observed = endpoint({"blue": 100}, deployment("blue"))
    new = replace(SETTINGS, image="reg/app@sha256:" + "b" * 64)
    plan = make_plan(desired(settings=new), observed, NOW)
    # blue holds 8 of the 12 used; green needs 8 more while blue still serves
    with pytest.raises(PreflightFailed, match=r"needs 8 cores of standardDSv2Family.*4 free"):
        check(plan, new, observed, [dsv2(used=12, limit=16)], 1)


def test_a_rerun_that_reuses_its_deployment_needs_nothing() -> None:
    observed = endpoint({"blue": 100}, deployment("blue"))
    plan = make_plan(desired(), observed, NOW)
    assert plan.is_noop
    assert check(plan, SETTINGS, observed, [dsv2(used=8, limit=8)], 1) == []


def test_replace_in_place_needs_only_the_difference() -> None:
    observed = endpoint({"blue": 100}, deployment("blue"))
    bigger = replace(SETTINGS, image="reg/app@sha256:" + "b" * 64, instance_count=2)
    plan = make_plan(desired(settings=bigger, strategy=Strategy.REPLACE), observed, NOW)
    # 12 for two instances, 8 already held by blue: 4 more
    assert check(plan, bigger, observed, [dsv2(used=8, limit=12)], 1) == []
    with pytest.raises(PreflightFailed, match="needs 4 cores"):
        check(plan, bigger, observed, [dsv2(used=8, limit=11)], 1)


def test_sizes_that_skip_the_reserve_need_only_their_cores() -> None:
    a100 = replace(SETTINGS, instance_type="Standard_NC24ads_A100_v4", instance_count=2)
    plan = make_plan(desired(settings=a100), None, NOW)
    usage = Usage("standardNCADSA100v4Family", "", FAMILY, 0, 48)
    assert check(plan, a100, None, [usage], 0) == []
    with pytest.raises(PreflightFailed, match=r"needs 48 cores.*no upgrade reserve"):
        check(plan, a100, None, [replace(usage, limit=47)], 0)


def test_the_endpoint_limit_per_subscription_and_region() -> None:
    plan = make_plan(desired(), None, NOW)
    with pytest.raises(PreflightFailed, match="already has 100 endpoints"):
        check(plan, SETTINGS, None, [dsv2(0, 100)], 100)


def test_an_unknown_size_is_a_warning_not_a_refusal() -> None:
    odd = replace(SETTINGS, instance_type="Standard_Q9_v9")
    [warning] = check(make_plan(desired(settings=odd), None, NOW), odd, None, [], 0)
    assert "not in Microsoft's managed online endpoint SKU list" in warning


def test_usages_are_found_by_the_family_or_the_specifications_display_name() -> None:
    spec_style = Usage(
        "Standard DSv2 Family Cluster Dedicated vCPUs",
        "/subscriptions/0/usages/Standard_DSv2_Family_Cluster_Dedicated_vCPUs",
        FAMILY,
        2,
        24,
    )
    low_priority = replace(
        spec_style,
        name="Standard DSv2 Family Cluster LowPriority vCPUs",
        id="/subscriptions/0/usages/Standard_DSv2_Family_Cluster_LowPriority_vCPUs",
    )
    assert family_usage([low_priority, spec_style], "standardDSv2Family") == spec_style
    assert family_usage([dsv2(0, 1)], "standardDSv2Family") is not None
    assert family_usage([spec_style], "standardDv2Family") is None

"""Bad input of every kind is refused cleanly, before a single call to Azure or the registry."""

from __future__ import annotations

from tools.reliability.scenarios import (
    FAST,
    AppFactory,
    Outcome,
    bad_action_inputs,
    bad_deploy_files,
    bad_events,
    delete_spares_production,
    generated_deploy_files,
    production_from_a_pull_request,
)


def assert_met(outcome: Outcome) -> None:
    assert outcome.figures.get("tried", 1) > 0
    assert outcome.met, f"{outcome.figures}\n{outcome.detail}"


def test_broken_deploy_files(new_app: AppFactory) -> None:
    assert_met(bad_deploy_files(new_app()))


def test_generated_deploy_files(new_app: AppFactory) -> None:
    outcome = generated_deploy_files(new_app(), FAST.fuzz_examples)
    assert_met(outcome)
    assert outcome.figures["refused cleanly"] >= FAST.fuzz_examples // 3  # mostly broken files


def test_bad_action_inputs(new_app: AppFactory) -> None:
    assert_met(bad_action_inputs(new_app()))


def test_bad_event_payloads(new_app: AppFactory) -> None:
    assert_met(bad_events(new_app()))


def test_production_is_not_deployed_from_a_pull_request(new_app: AppFactory) -> None:
    assert_met(production_from_a_pull_request(new_app()))


def test_delete_spares_a_production_endpoint(new_app: AppFactory) -> None:
    assert_met(delete_spares_production(new_app))

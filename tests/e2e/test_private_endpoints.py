"""Private endpoints through the real command line: an endpoint created with public network
access disabled; from a runner outside the workspace's network, a rollout judged by live traffic
alone (smoke_test.from: none, or found out by the probe) and one nothing would judge refused
before anything changes; with egress disabled, an image from another registry refused by the
plan."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests
from azure.ai.ml.entities import Environment

from tests.e2e.conftest import App
from tests.e2e.test_asset_deployments import scoring_app
from tools.checks import mutating_arm_calls

pytestmark = pytest.mark.docker

PRODUCTION = ("--environment", "production")
ANALYSIS = ", analysis: {interval_seconds: 2, metrics_delay_seconds: 1, min_requests: 2}"


def private_deploy_file(app: App, color: str, rollout: str = ANALYSIS, smoke: str = "") -> None:
    """The server's deploy file with a private endpoint; `smoke`: production's smoke_test."""
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=6, color=color, rollout=rollout)
    private = "endpoint: {name: models, public_network_access: disabled}\n"
    production = f"    smoke_test: {smoke}\n" if smoke else ""
    rewrite(app, lambda text: text.replace("endpoint: {name: models}\n", private) + production)


def rewrite(app: App, change: Callable[[str], str]) -> None:
    path = app.root / "server" / "deploy.yml"
    path.write_text(change(path.read_text()))
    app.commit("the deploy file changed")


def served(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


@contextmanager
def clients_traffic(outputs: dict[str, str], ca_bundle: str) -> Iterator[list[int]]:
    """The endpoint's own clients, inside the network: a request every 0.2 s meanwhile."""
    statuses: list[int] = []
    stop = threading.Event()

    def send() -> None:
        with requests.Session() as session:
            while not stop.wait(0.2):
                answer = session.post(
                    outputs["scoring-uri"],
                    json={"x": 1},
                    headers={"Authorization": f"Bearer {outputs['primary-key']}"},
                    verify=ca_bundle,
                    timeout=10,
                )
                statuses.append(answer.status_code)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join()


def first_version(app: App) -> dict[str, str]:
    """Version one on a new private endpoint, its smoke test from a runner inside."""
    app.emulator.clients_inside_network(True)
    private_deploy_file(app, "one")
    deployed = app.outputs(*PRODUCTION)
    endpoint = app.endpoint("models")
    assert endpoint is not None and endpoint["properties"]["publicNetworkAccess"] == "Disabled"
    app.emulator.clients_inside_network(False)
    assert app.score(deployed).status_code == 403  # outside: refused
    return deployed


def test_a_new_private_endpoint_out_of_the_runners_reach_fails_its_smoke_test_with_the_fix(
    app: App,
) -> None:
    private_deploy_file(app, "one")
    first = app.deploy(*PRODUCTION)
    assert first.returncode == 1, first.stderr
    assert "becomes private (public network access disabled) in this run" in first.stderr
    assert "this runner is likely outside the workspace's network" in first.stderr
    assert "Traceback" not in first.stderr
    assert served(app) == {}


def test_from_none_rolls_out_to_a_private_endpoint_judged_by_live_traffic(app: App) -> None:
    deployed = first_version(app)
    private_deploy_file(app, "two", smoke="{from: none}")
    app.emulator.clients_inside_network(True)  # the clients; the runner sends nothing
    with clients_traffic(deployed, app.emulator["ca_bundle"]) as statuses:
        second = app.deploy(*PRODUCTION, "--output-json", str(app.root.parent / "two.json"))
    assert second.returncode == 0, second.stderr
    assert "smoke_test.from: none: no smoke test" in second.stderr
    assert "smoke test of green" not in second.stderr
    analysis = json.loads(json.loads((app.root.parent / "two.json").read_text())["analysis"])
    assert analysis["verdict"] == "passed"
    assert any(window["requests"] >= 2 for window in analysis["windows"])
    assert served(app) == {"green": 100}
    assert statuses and set(statuses) == {200}


def test_a_runner_outside_is_found_out_and_the_rollout_judged_by_analysis_alone(
    app: App,
) -> None:
    deployed = first_version(app)
    private_deploy_file(app, "two")
    process = app.start("deploy", *PRODUCTION)
    # Once the run recorded its rollout (after the probe, its first change), the endpoint's
    # clients inside the network send their traffic.
    while not (app.endpoint("models") or {}).get("tags", {}).get("azureml-deploy.candidate"):
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    app.emulator.clients_inside_network(True)
    with clients_traffic(deployed, app.emulator["ca_bundle"]):
        stdout, stderr = process.communicate(timeout=300)
    app.record("deploy (outside)", stdout, stderr)
    assert process.returncode == 0, stderr
    assert "this runner cannot reach" in stderr and "(HTTP 403, refused)" in stderr
    assert "judged by rollout.analysis alone" in stderr
    assert "public network access (to" not in stderr  # already private: no change
    assert "smoke test of green" not in stderr
    assert served(app) == {"green": 100}


def test_outside_with_nothing_to_judge_the_rollout_is_refused_before_any_change(
    app: App,
) -> None:
    first_version(app)
    private_deploy_file(app, "two", rollout="")
    plan = app.run("plan", *PRODUCTION)
    assert plan.returncode == 0, plan.stderr
    assert "deploy would refuse: this runner cannot reach" in plan.stderr
    since = app.emulator.last_request()
    refused = app.deploy(*PRODUCTION)
    assert refused.returncode == 1, refused.stderr
    assert "nothing else would judge the new deployment" in refused.stderr
    assert "hint: run this job on a self-hosted runner inside" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert mutating_arm_calls(app, since) == []
    assert served(app) == {"blue": 100}


def test_egress_disabled_refuses_an_image_from_another_registry_before_any_change(
    app: App,
) -> None:
    app.emulator.admin("POST", "/acr", {"workspace_registry": False})
    app.server_deploy_file()
    egress = "  instance_count: 1\n  egress_public_network_access: disabled\n"
    rewrite(app, lambda text: text.replace("  instance_count: 1\n", egress))
    since = app.emulator.last_request()
    refused = app.deploy()
    assert refused.returncode == 2, refused.stderr
    assert "but the deployment's egress_public_network_access is disabled" in refused.stderr
    assert "not from MCR, a public registry or another Azure Container Registry" in refused.stderr
    assert "hint: copy the image into the workspace's registry" in refused.stderr
    assert mutating_arm_calls(app, since) == [] and app.endpoint("models") is None


def test_egress_disabled_refuses_an_environment_image_from_mcr_given_or_registered(
    app: App,
) -> None:
    minimal = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
    deploy_file = scoring_app(app, name="sealed", environment=f"{{image: {minimal}}}")
    egress = "  instance_type: Standard_DS3_v2\n  egress_public_network_access: disabled\n"
    text = deploy_file.read_text().replace("  instance_type: Standard_DS3_v2\n", egress)
    deploy_file.write_text(text)
    app.commit("egress disabled")
    app.emulator.ml_client().environments.create_or_update(
        Environment(name="minimal", version="1", image=minimal)
    )
    since = app.emulator.last_request()
    for environment, what in [
        (f"{{image: {minimal}}}", f"the environment's image {minimal}"),
        ("azureml:minimal:1", f"environment azureml:minimal:1 runs the image {minimal}"),
    ]:
        deploy_file.write_text(text.replace(f"{{image: {minimal}}}", environment))
        app.commit(environment)
        refused = app.deploy(config="seed/deploy.yml")
        assert refused.returncode == 2, refused.stderr
        assert f"{what} is in mcr.microsoft.com, but the deployment's" in refused.stderr
    assert mutating_arm_calls(app, since) == [] and app.endpoint("sealed") is None

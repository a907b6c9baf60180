"""deployment.autoscale end to end: real deploys (the real SDKs, Docker and registry) against the
emulator, the settings read back with azure-mgmt-monitor's MonitorManagementClient, and the
emulator's autoscale engine (fast profile: a rule's minute is a second) scaling the deployment
the deploy file's rules are on."""

from __future__ import annotations

import time

import pytest
from azure.mgmt.monitor import MonitorManagementClient

from emulator.client import Emulator
from tests.e2e.conftest import App
from tools.reliability.load import Load

pytestmark = pytest.mark.docker

AUTOSCALE = """\
  autoscale:
    min_instances: 1
    max_instances: 2
    rules:
      - {metric: RequestsPerMinute, operator: GreaterThan, threshold: 5, direction: out,
         window_minutes: 2, cooldown_minutes: 1}
      - {metric: RequestsPerMinute, operator: LessThan, threshold: 1, direction: in,
         window_minutes: 2, cooldown_minutes: 1}
"""


def with_autoscale(app: App, color: str) -> None:
    app.server_deploy_file(color=color)
    path = app.root / "server" / "deploy.yml"
    text = path.read_text()
    path.write_text(text.replace("  inference_config:\n", AUTOSCALE + "  inference_config:\n", 1))
    app.commit(f"autoscale {color}")


def monitor(emulator: Emulator) -> MonitorManagementClient:
    return MonitorManagementClient(
        emulator.secret_credential(),
        emulator["subscription_id"],
        base_url=emulator["arm_url"],
        credential_scopes=[emulator["arm_url"] + "/.default"],
        connection_verify=emulator["ca_bundle"],
    )


def settings(app: App) -> dict[str, tuple[str, bool]]:
    found = monitor(app.emulator).autoscale_settings.list_by_resource_group(
        app.emulator["resource_group"]
    )
    return {
        str(s.name): (str(s.target_resource_uri).rsplit("/", 1)[-1], bool(s.enabled)) for s in found
    }


def test_a_blue_green_swap_carries_the_setting_to_the_new_deployment(app: App) -> None:
    with_autoscale(app, "one")
    app.outputs()
    assert settings(app) == {"models-blue-autoscale": ("blue", True)}
    read = monitor(app.emulator).autoscale_settings.get(
        app.emulator["resource_group"], "models-blue-autoscale"
    )
    assert read.tags["managed-by"] == "azureml-deploy"
    (profile,) = read.profiles
    assert (profile.capacity.minimum, profile.capacity.maximum) == ("1", "2")
    assert [r.scale_action.direction for r in profile.rules] == ["Increase", "Decrease"]
    with_autoscale(app, "two")
    second = app.outputs()
    assert second["deployment-name"] == "green"
    assert settings(app) == {"models-green-autoscale": ("green", True)}, "blue's went with it"
    # Removing the block deletes the setting (a new commit here: its image is a new one too).
    app.server_deploy_file(color="two")
    result = app.deploy()
    assert result.returncode == 0, result.stderr
    assert "delete autoscale setting models-green-autoscale" in result.stderr
    assert settings(app) == {}
    assert len((app.endpoint("models") or {})["deployments"]) == 1


def _instances(app: App) -> int:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    (deployment,) = endpoint["deployments"]
    return sum(1 for i in deployment["instances"] if i["ready"])


def _until(check: object, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def test_the_deploy_files_rules_scale_out_under_load_and_back_in(app: App) -> None:
    with_autoscale(app, "one")
    outputs = app.outputs()
    assert _instances(app) == 1
    body = (app.root / "server" / "request.json").read_bytes()
    load = Load(
        outputs["scoring-uri"],
        outputs["primary-key"],
        body,
        ca_bundle=app.emulator["ca_bundle"],
        rate=20,
        max_requests=1000,
        max_seconds=50,
    )
    with load:
        scaled_out = _until(lambda: _instances(app) == 2, 45)
    figures = load.stop()
    assert scaled_out, f"never scaled out ({figures.as_dict()})"
    assert figures.failed == 0, figures.as_dict()
    assert _until(lambda: _instances(app) == 1, 60), "never scaled back in"

"""deployment.autoscale end to end: real deploys (the real SDKs, Docker and registry) against the
emulator, the settings read back with azure-mgmt-monitor's MonitorManagementClient, and the
emulator's autoscale engine (fast profile: a rule's minute is a second). Scaling under load, and a
swap while scaled out: tests/reliability/test_judged.py."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import App
from tools.reliability.autoscaled import monitor, settings, with_autoscale

pytestmark = pytest.mark.docker


def test_a_blue_green_swap_carries_the_setting_to_the_new_deployment(app: App) -> None:
    with_autoscale(app, "one")
    app.outputs()
    assert settings(app) == {"models-blue-autoscale": ("blue", True)}
    read = monitor(app.emulator).autoscale_settings.get(
        app.emulator["resource_group"], "models-blue-autoscale"
    )
    assert read.tags["managed-by"] == "azureml-deploy"
    (profile,) = read.profiles
    assert (profile.capacity.minimum, profile.capacity.maximum) == ("1", "3")
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

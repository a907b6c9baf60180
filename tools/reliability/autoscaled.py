"""deployment.autoscale under load: the deploy file's rules reach Azure Monitor's autoscale (the
emulator's engine enforces them), the deployment scales out under load, a blue-green swap made
while it is scaled out starts the new deployment with as many instances and carries the
setting over, and it scales back in when the load stops; no request fails meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from azure.mgmt.monitor import MonitorManagementClient

from emulator.client import Emulator
from tools.reliability.load import Load
from tools.reliability.scenarios import AppFactory, Outcome
from tools.repo import App

AUTOSCALE = """\
  autoscale:
    min_instances: 1
    max_instances: 3
    rules:
      - {metric: RequestsPerMinute, operator: GreaterThan, threshold: 5, direction: out,
         window_minutes: 2, cooldown_minutes: 1}
      - {metric: RequestsPerMinute, operator: LessThan, threshold: 1, direction: in,
         window_minutes: 2, cooldown_minutes: 1}
"""


def with_autoscale(app: App, color: str, block: str = AUTOSCALE) -> None:
    """The test server's deploy file with `block` under `deployment`."""
    app.server_deploy_file(color=color)
    path = app.root / "server" / "deploy.yml"
    text = path.read_text()
    path.write_text(text.replace("  inference_config:\n", block + "  inference_config:\n", 1))
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
    """Every autoscale setting in the resource group: its target deployment, enabled or not."""
    found = monitor(app.emulator).autoscale_settings.list_by_resource_group(
        app.emulator["resource_group"]
    )
    return {
        str(s.name): (str(s.target_resource_uri).rsplit("/", 1)[-1], bool(s.enabled)) for s in found
    }


def instances(app: App, deployment: str | None = None) -> int:
    """Ready instances of `deployment` (the only one when None)."""
    endpoint = app.endpoint("models")
    assert endpoint is not None
    found = [d for d in endpoint["deployments"] if deployment in (None, d["name"])]
    return sum(1 for i in found[0]["instances"] if i["ready"]) if found else 0


def until(check: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until `check` holds, or None when it did not within `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def autoscale_case(new_app: AppFactory, rate: float = 20) -> Outcome:
    app = new_app()
    with_autoscale(app, "one")
    first = app.outputs()
    body = (app.root / "server" / "request.json").read_bytes()
    load = Load(
        first["scoring-uri"],
        first["primary-key"],
        body,
        ca_bundle=app.emulator["ca_bundle"],
        rate=rate,
        max_requests=int(rate * 150),
        max_seconds=150,
    )
    figures: dict[str, Any] = {"settings_before": settings(app)}
    with load:
        figures["scaled_out_after_s"] = _round(until(lambda: instances(app, "blue") >= 2, 60))
        figures["blue_instances_at_swap"] = instances(app, "blue")
        with_autoscale(app, "two")
        swap = app.deploy()
        figures["swap_exit_code"] = swap.returncode
        figures["green_instances_after_swap"] = instances(app, "green")
        figures["settings_after_swap"] = settings(app)
    sent = load.stop()
    figures["scaled_in_after_s"] = _round(until(lambda: instances(app, "green") == 1, 90))
    figures.update(sent=sent.sent, failed=sent.failed, failures=dict(sent.failures))
    met = (
        figures["scaled_out_after_s"] is not None
        and swap.returncode == 0
        and figures["green_instances_after_swap"] >= figures["blue_instances_at_swap"]
        and figures["settings_after_swap"] == {"models-green-autoscale": ("green", True)}
        and figures["scaled_in_after_s"] is not None
        and sent.failed == 0
    )
    return Outcome(
        "judged by live traffic",
        "(l) autoscale under load, and a blue-green swap while scaled out",
        "scales out under load; the swap starts the new deployment with as many instances and "
        "carries the setting; scales back in after the load; 0 failed requests",
        met,
        figures,
        detail=swap.stderr[-3000:],
    )


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)

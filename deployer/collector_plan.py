"""What a plan says about the data collector: what the new deployment collects, and how that
differs from what the serving one collects (a deployment's collector is its own: Learn,
concept-data-collection, "Definition at the deployment level")."""

from __future__ import annotations

from deployer.spec.model import DataCollectorSpec
from deployer.state import DeploymentState


def collector_notes(
    wanted: DataCollectorSpec | None, serving: DeploymentState | None, target: str
) -> tuple[str, ...]:
    after = wanted.summary() if wanted is not None else None
    before = serving.data_collector if serving is not None else None
    if serving is None or serving.name == target or before == after:
        return (f"data collector: {target} collects {after}",) if after else ()
    now = f"{serving.name} collects {before}" if before else f"{serving.name} collects nothing"
    then = f"{target} will collect {after}" if after else f"{target} will collect nothing"
    return (f"data collector changes: {now}; {then}",)

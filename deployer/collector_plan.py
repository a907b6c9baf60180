"""What a plan says about the data collector: what the new deployment collects, and how that
differs from what the serving one collects (a deployment's collector is its own: Learn,
concept-data-collection, "Definition at the deployment level")."""

from __future__ import annotations

from dataclasses import replace

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


def own_collections(collector: DataCollectorSpec | None) -> DataCollectorSpec | None:
    """What a pull request's run collects: every collection to Azure's default data asset and
    path, named after its own preview (`<endpoint>-<deployment>-<collection>`,
    .../modelDataCollector/<endpoint>/...). The deploy file is the pull request author's, and
    the data assets and paths it names may be production's monitoring data (DESIGN.md,
    "Trust nothing we did not write")."""
    if collector is None:
        return None
    return replace(
        collector, collections=tuple(replace(c, data=None) for c in collector.collections)
    )


def own_collections_note(collector: DataCollectorSpec | None) -> str | None:
    """What own_collections changes of the deploy file, for the run's log; None: nothing."""
    named = [c.name for c in collector.collections if c.data is not None] if collector else []
    if not named:
        return None
    verb = "is" if len(named) == 1 else "are"
    return (
        f"data collector: this run acts for a pull request, so {', '.join(named)} {verb} "
        "collected to Azure's default data assets under the preview's own endpoint, not to "
        "the `data` the deploy file names (it may be another deployment's monitoring data)"
    )

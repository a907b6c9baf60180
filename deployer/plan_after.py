"""The planners after the job (`rollback`, `promote`, `abort`, and cleanup's retirement of a
deployment kept for rollback): from the endpoint's rollout record, with the same model and
rules as the deploy planner (plan.py). No I/O here; every planner is given `now`."""

from __future__ import annotations

import datetime
from dataclasses import replace

from deployer.errors import NothingToDo
from deployer.plan import (
    Desired,
    Plan,
    Seen,
    all_to,
    assemble,
    autoscale_serving,
    final_record,
    kept_still,
    live_steps,
    owned_setting,
    pin,
    read,
    retire_idle,
    when_text,
)
from deployer.state import (
    EndpointState,
)
from deployer.steps import (
    Mark,
    PinAutoscale,
    PlanStep,
    Retire,
    SetTraffic,
    SmokeTest,
)
from deployer.tags import Record


def plan_rollback(desired: Desired, observed: EndpointState | None, now: datetime.datetime) -> Plan:
    """All traffic back to the deployment kept by keep_previous, at once: no build, the smoke
    test first. The deployment it replaces becomes the kept one (a second rollback undoes the
    first); an unfinished candidate is retired."""
    seen = _existing(desired, observed, "rollback")
    kept = seen.record.kept if seen.record.kept in seen.own else None
    deployment = seen.observed.deployment(kept) if seen.observed and kept else None
    if kept is None or deployment is None or not deployment.healthy:
        raise NothingToDo(
            f"endpoint {desired.endpoint} has no deployment kept for rollback",
            hint="keep the previous deployment after each rollout with rollout.keep_previous: "
            "true (or a duration such as 24h); to stop a rollout in progress, run abort",
        )
    record = Record(
        known_good=kept,
        known_good_image=deployment.image,
        known_good_settings=deployment.settings_hash,
        kept=seen.known_good,
        kept_until=seen.record.kept_until,
    )
    steps: list[PlanStep] = [Mark(seen.record, stop_mirror=seen.own_mirror)]
    if desired.smoke_test:
        steps.append(SmokeTest(kept))
    steps.append(SetTraffic(all_to(kept, seen), record))
    steps += autoscale_serving(desired, seen, kept)
    keep = {kept} | ({seen.known_good} if seen.known_good else set())
    steps += retire_idle(seen, keep, now, "unfinished candidate")
    return assemble(desired, seen, kept, steps)


def plan_promote(desired: Desired, observed: EndpointState | None, now: datetime.datetime) -> Plan:
    """Continue a rollout left at a step (its run was lost, or stopped): the smoke test again,
    then the remaining canary steps with their watches, then 100 %."""
    seen = _existing(desired, observed, "promote")
    candidate = seen.candidate
    deployment = seen.observed.deployment(candidate) if seen.observed and candidate else None
    if candidate is None or deployment is None or not deployment.healthy:
        raise NothingToDo(
            f"endpoint {desired.endpoint} has no rollout to promote (no unfinished candidate)",
            hint="promote continues a canary a run left at a step; to roll out a new version, "
            "run deploy",
        )
    as_deployed = replace(
        desired,
        settings=replace(desired.settings, image=deployment.image or ""),
        image_pending=False,
    )
    final, kept = final_record(as_deployed, seen, candidate, now)
    final = replace(
        final, known_good_image=deployment.image, known_good_settings=deployment.settings_hash
    )
    steps: list[PlanStep] = [Mark(seen.record, stop_mirror=seen.own_mirror)]
    live, notes = live_steps(desired, seen, candidate, seen.share(candidate), final)
    steps += pin(seen, live)
    if desired.smoke_test:
        steps.append(SmokeTest(candidate))
    steps += live
    steps += autoscale_serving(desired, seen, candidate)
    keep = {candidate} | ({kept} if kept else set()) | (kept_still(seen, now) - {seen.known_good})
    steps += retire_idle(seen, keep, now)
    return assemble(desired, seen, candidate, steps, notes)


def plan_abort(desired: Desired, observed: EndpointState | None, now: datetime.datetime) -> Plan:
    """Stop a rollout: all traffic to the known-good deployment, the candidate retired. No
    rollout in progress: nothing to do."""
    seen = _existing(desired, observed, "abort")
    if seen.candidate is None:
        return assemble(desired, seen, seen.known_good, [])
    if seen.known_good is None:
        raise NothingToDo(
            f"endpoint {desired.endpoint} has no known-good deployment to go back to",
            hint="its first rollout never finished; deploy again, or delete the endpoint",
        )
    record = replace(seen.record, candidate=None, step=None, holder=None, lease_until=None)
    if seen.share(seen.candidate) > 0:
        steps: list[PlanStep] = [
            Mark(seen.record, stop_mirror=seen.own_mirror),
            SetTraffic(all_to(seen.known_good, seen), record),
        ]
    else:
        steps = [Mark(record, stop_mirror=seen.own_mirror)]
    steps += _resumed(seen)
    steps.append(Retire(seen.candidate, "the aborted candidate"))
    return assemble(desired, seen, seen.known_good, steps)


def _resumed(seen: Seen) -> list[PlanStep]:
    """The known-good's setting, paused by the rollout that is stopped, resumed."""
    setting = owned_setting(seen, seen.known_good)
    if setting is None or setting.enabled or seen.known_good is None:
        return []
    return [PinAutoscale(seen.known_good, True, setting.name)]


def _existing(desired: Desired, observed: EndpointState | None, command: str) -> Seen:
    if observed is None:
        raise NothingToDo(
            f"endpoint {desired.endpoint} does not exist: nothing to {command}",
            hint="check endpoint.name and --environment",
        )
    return read(desired.endpoint, observed)


def plan_retire_kept(
    desired: Desired, observed: EndpointState | None, now: datetime.datetime
) -> Plan:
    """The deployment kept for rollback, once its keep_previous duration is over (cleanup):
    retired, and the record no longer names it. Nothing to do when it is not yet due, serves,
    or is gone."""
    seen = _existing(desired, observed, "retire")
    record, kept = seen.record, seen.record.kept
    if (
        kept is None
        or not record.kept_expired(now)
        or kept not in seen.own
        or kept == seen.known_good
        or seen.share(kept) > 0
    ):
        return assemble(desired, seen, seen.known_good, [])
    cleared = replace(record, kept=None, kept_until=None, holder=None, lease_until=None)
    steps: list[PlanStep] = [
        Mark(cleared, stop_mirror=seen.own_mirror),
        Retire(kept, f"kept for rollback until {when_text(record)}"),
    ]
    return assemble(desired, seen, seen.known_good, steps)

"""rollout.agreement after a rollout: a deploy of a baseline environment (production) records
what its live deployment answers (deployer/answers.py); a preview compares its own answers with
that record and hands back a scorecard (deployer/scorecard.py).

A pull request's run reads the baseline's endpoint (which deployment serves) and its recorded
answers; it never calls the baseline's endpoint, never holds its keys and writes nothing of it.
Neither side fails the deploy: what serves is already live, and a scorecard that cannot be made
says why (a warning, and the scorecard's `no baseline`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deployer.agreement import Agreement, Answer, Request
from deployer.answers import (
    MAX_RECORD_BYTES,
    AnswerRecord,
    UnreadableRecord,
    judging_of,
    parse_record,
    recorded,
    serving_identity,
)
from deployer.converge import Converged
from deployer.deadline import Deadline
from deployer.errors import DeployerError, NameTemplateError
from deployer.scorecard import Baseline, Scorecard, baseline_environment, not_scored, score
from deployer.scoring import HttpScorer
from deployer.session import Session
from deployer.spec import DeploySpec, load_deploy_spec, validate_deploy_file
from deployer.spec.azml_files import GivenFiles
from deployer.tags import utc_timestamp

ANSWERS_FOLDER = "azureml-deploy/answers"


def answers_path(endpoint: str) -> str:
    """Where an endpoint's recorded answers live in the workspace's default datastore."""
    return f"{ANSWERS_FOLDER}/{endpoint}.json"


def after_rollout(
    session: Session, converged: Converged, agreement: Agreement | None, deadline: Deadline
) -> Scorecard | None:
    """A preview's scorecard; for a baseline's deploy, None after recording its answers."""
    if agreement is None:
        return None
    if session.spec.ttl_hours is not None:
        try:
            return _scorecard(session, converged, agreement, deadline)
        except (DeployerError, OSError, ValueError) as exc:
            # the preview is live: a scorecard that cannot be made is no failure
            session.runner.warning(f"no scorecard: {getattr(exc, 'message', exc)}")
            return None
    if not session.context.is_pull_request:
        _record(session, converged, agreement, deadline)
    return None


def _record(
    session: Session, converged: Converged, agreement: Agreement, deadline: Deadline
) -> None:
    name, runner = session.endpoint_name, session.runner
    try:
        endpoint = session.azure.endpoint(name)
        live = endpoint.record if endpoint is not None else None
        identity = serving_identity(live) if live is not None else None
        if live is None or live.known_good is None or identity is None:
            return
        serving = live.known_good
        judging = judging_of(agreement.spec)
        try:
            existing = _read(session, name)
        except UnreadableRecord:
            existing = None  # written again below
        if existing is not None and existing.covers(identity, agreement.requests, judging):
            runner.info(f"previews' scorecards: {serving}'s answers are already recorded")
            return
        answers = _answers(converged, serving, agreement, deadline)
        record = AnswerRecord(
            endpoint=name,
            deployment=serving,
            serving=identity,
            recorded_at=utc_timestamp(),
            commit=session.context.sha,
            run_url=session.context.run_url,
            judging=judging,
            answers=recorded(answers),
        )
        session.azure.write_own_blob(answers_path(name), record.to_bytes())
    except (DeployerError, OSError, ValueError) as exc:
        runner.warning(
            f"could not record what {name} answers for the previews' scorecards: "
            f"{getattr(exc, 'message', exc)}; the deploy itself succeeded, and previews say "
            "they have no baseline until a deploy records one"
        )
        return
    runner.info(
        f"previews' scorecards: recorded what deployment {serving} answers to "
        f"{len(answers)} requests (workspace storage, {answers_path(name)})"
    )


def _read(session: Session, endpoint: str) -> AnswerRecord | None:
    data = session.azure.read_own_blob(answers_path(endpoint), MAX_RECORD_BYTES)
    return None if data is None else parse_record(data)


def _answers(
    converged: Converged, deployment: str, agreement: Agreement, deadline: Deadline
) -> list[tuple[Request, Answer]]:
    scorer = HttpScorer(converged.smoke.scoring_uri(), converged.smoke.keys().primary)
    answered = []
    for request in agreement.requests:
        deadline.check("sending rollout.agreement's requests")
        timeout = min(float(agreement.spec.timeout_seconds), deadline.remaining())
        answered.append((request, scorer.score(deployment, request.body, timeout)))
    return answered


def _scorecard(
    session: Session, converged: Converged, agreement: Agreement, deadline: Deadline
) -> Scorecard | None:
    environment = _baseline_environment(session, agreement)
    if environment is None:
        return None
    deployment = converged.plan.target or ""
    baseline, why = _baseline(session, environment)
    if why:
        card = not_scored(baseline, deployment, why)
    else:
        try:
            card = _judged(session, converged, agreement, deadline, baseline, deployment)
        except DeployerError as exc:  # the preview is live: the scorecard only says why
            card = not_scored(baseline, deployment, f"the scorecard stopped: {exc.message}")
    say = session.runner.info if card.conclusion != "failure" else session.runner.warning
    say(f"scorecard: {card.headline()}")
    return card


def _judged(  # noqa: PLR0917 - the values one judgement reads
    session: Session,
    converged: Converged,
    agreement: Agreement,
    deadline: Deadline,
    baseline: Baseline,
    deployment: str,
) -> Scorecard:
    try:
        live = session.azure.endpoint(baseline.endpoint)
        serving = live.record.known_good if live is not None else None
        identity = serving_identity(live.record) if live is not None else None
        if live is None:
            return not_scored(
                baseline,
                deployment,
                f"{baseline.environment}'s endpoint {baseline.endpoint} is not in this workspace "
                "(not deployed yet, or deployed to another workspace)",
            )
        if serving is None:
            return not_scored(
                baseline, deployment, f"{baseline.environment}'s endpoint serves no deployment yet"
            )
        record = _read(session, baseline.endpoint)
    except UnreadableRecord as exc:
        return not_scored(
            baseline,
            deployment,
            f"{baseline.environment}'s recorded answers cannot be read ({exc}); its next "
            "deploy records them again",
        )
    except DeployerError as exc:
        return not_scored(
            baseline,
            deployment,
            f"could not read {baseline.environment}'s endpoint or answers: {exc.message}",
        )
    if record is None:
        return not_scored(
            baseline,
            deployment,
            f"{baseline.environment} has no recorded answers yet: its next deploy with "
            "rollout.agreement records them",
        )
    if record.serving != identity:
        return not_scored(
            baseline,
            deployment,
            f"{baseline.environment}'s recorded answers are not those of what serves it now "
            f"(recorded from deployment {record.deployment}, {serving} serves, maybe changed "
            "since): its next deploy records them again",
        )
    answered: Sequence[tuple[Request, Answer]] = _answers(
        converged, deployment, agreement, deadline
    )
    return score(baseline, deployment, record, answered, judging_of(agreement.spec))


def _baseline_environment(session: Session, agreement: Agreement) -> str | None:
    defined = validate_deploy_file(
        Path(session.options.config),
        workspace=session.options.root,
        given=_given(session),
    ).environment_names
    found = baseline_environment(agreement.spec.baseline, defined)
    if found is None:
        session.runner.info(
            "no scorecard: this deploy file has no production environment to compare the "
            "preview with (rollout.agreement.baseline names one)"
        )
    return found


def _baseline(session: Session, environment: str) -> tuple[Baseline, str]:
    """The baseline's endpoint, or why it has none a pull request's run can name."""
    try:
        spec = _spec_of(session, environment)
        return Baseline(environment, spec.endpoint.render_name(session.context.name_values())), ""
    except NameTemplateError as exc:
        return Baseline(environment, ""), f"its endpoint name {exc}"
    except DeployerError as exc:
        return Baseline(environment, ""), f"its environment cannot be read: {exc.message}"


def _spec_of(session: Session, environment: str) -> DeploySpec:
    options = session.options
    return load_deploy_spec(
        Path(options.config), environment, workspace=options.root, given=_given(session)
    )


def _given(session: Session) -> GivenFiles:
    return GivenFiles.of(session.options.endpoint_file, session.options.deployment_file)

"""What a run hands back: its report (outputs, keys masked first, job summary, log summary), the
failure summary, and how GitHub shows it (the deployment and the pull request comment)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from deployer.agreement import Agreement
from deployer.agreement_report import agreement_json, agreement_markdown
from deployer.analysis import Analysis
from deployer.converge import Converged
from deployer.errors import (
    DeployerError,
    PolicyError,
)
from deployer.github import comment
from deployer.github.presence import GitHubPresence
from deployer.report import (
    DeployReport,
    analysis_json,
    analysis_markdown,
    console_summary,
    failure_markdown,
    publish,
    summary_markdown,
    timing_text,
)
from deployer.scorecard import Scorecard
from deployer.session import Session
from deployer.timing import Phases


def report(  # noqa: PLR0917 - one value per line of the report
    session: Session,
    converged: Converged,
    image: str,
    outcome: str,
    image_tag: str = "",
    image_work: str = "",
    analysis: Analysis | None = None,
    agreement: Agreement | None = None,
    scorecard: Scorecard | None = None,
) -> DeployReport:
    final = session.azure.endpoint(session.endpoint_name)
    if final is None:
        raise PolicyError(f"endpoint {session.endpoint_name} disappeared during the rollout")
    return DeployReport(
        endpoint=final,
        deployment=converged.plan.target,
        previous=converged.plan.previous,
        image=image,
        keys=converged.smoke.keys(),
        plan=converged.plan,
        smoke=converged.outcome.smoke if converged.outcome else None,
        studio_url=studio_url(session, session.endpoint_name),
        outcome=outcome,
        image_tag=image_tag,
        image_work=image_work,
        analysis=analysis,
        agreement=agreement,
        scorecard=scorecard,
    )


@contextlib.contextmanager
def failure_summarised(
    session: Session, analysis: Analysis | None = None, agreement: Agreement | None = None
) -> Iterator[None]:
    """A failure inside goes into the job summary (then on, to the command line's handler),
    with the analysis windows and agreement checks so far, which are outputs too."""
    try:
        yield
    except DeployerError as failure:
        outputs = {}
        if analysis is not None:
            outputs["analysis"] = analysis_json(analysis)
        if agreement is not None:
            outputs["agreement"] = agreement_json(agreement)
        if outputs:
            publish(session.runner, outputs, session.options.output_json)
        if session.options.summary:
            session.runner.add_summary(
                failure_markdown(session.endpoint_name, failure.message, failure.hint)
                + analysis_markdown(analysis)
                + agreement_markdown(agreement)
            )
        raise


def hand_back(session: Session, result: DeployReport, phases: Phases) -> None:
    """The run's outputs (keys masked first), its job summary and its log summary."""
    runner, options = session.runner, session.options
    publish(runner, result.outputs(), options.output_json)
    if options.summary:
        runner.add_summary(summary_markdown(result, phases, session.spec.environment))
    runner.info(console_summary(result, phases))


def studio_url(session: Session, endpoint: str) -> str:
    return session.cloud.studio_url(endpoint, session.azure.workspace_id)


def github_presence(session: Session) -> GitHubPresence | None:
    """The run's GitHub deployment and pull request comment, when the job's token allows."""
    spec, name = session.spec, session.endpoint_name
    return GitHubPresence.open(
        session.runner,
        session.context,
        session.environ,
        environment=spec.environment or name,
        endpoint=name,
        preview=spec.ttl_hours is not None,
        where=comment.Where(
            name,
            session.azure.resource_group,
            session.azure.workspace,
            str(spec.endpoint.auth_mode),
        ),
        verify=session.cloud.ca_bundle or True,
    )


def live_comment(result: DeployReport, phases: Phases, run_url: str | None) -> comment.Live:
    endpoint = result.endpoint
    return comment.Live(
        scoring_uri=endpoint.scoring_uri or "",
        deployment=result.deployment or "",
        image=result.image,
        traffic=comment.traffic_line(endpoint.traffic),
        smoke=result.smoke.describe() if result.smoke else "not run",
        timings=timing_text(phases),
        studio_url=result.studio_url,
        run_url=run_url,
        scorecard=result.scorecard,
    )

"""A preview's scorecard: what the pull request's deployment answers to rollout.agreement's
request set, against what the baseline environment's live deployment answered when its deploy
recorded it (deployer/answers.py), judged by the baseline's recorded rule.

`passed` and `failed` are judgements; `no baseline` says why there is nothing to judge against
(no record yet, a record of another deployment than the one serving now, one that cannot be
read), and is a check run's `neutral`: GitHub counts it as passing a required check, as it
counts a skipped job, so a first preview before any production deploy does not block its pull
request."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deployer.agreement import AgreementVerdict, Answer, Check, Judged, Request, judge
from deployer.answers import AnswerRecord, JudgingRule, request_key

DEFAULT_BASELINE = "production"


def baseline_environment(named: str | None, defined: Collection[str]) -> str | None:
    """The environment a preview is scored against: rollout.agreement.baseline, else
    `production` when the deploy file defines it; None: no scorecard."""
    if named is not None:
        return named
    return DEFAULT_BASELINE if DEFAULT_BASELINE in defined else None


class ScoreVerdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_BASELINE = "no baseline"


@dataclass(frozen=True)
class Baseline:
    """The environment a preview is scored against, and its endpoint."""

    environment: str
    endpoint: str


@dataclass(frozen=True)
class Scorecard:
    baseline: Baseline
    deployment: str  # the preview's deployment that answered
    verdict: ScoreVerdict
    why: str = ""  # NO_BASELINE: why
    record: AnswerRecord | None = None
    check: Check | None = None
    new_requests: tuple[str, ...] = ()  # the request set's files the record has no answer for
    own_rule_differs: bool = False  # the pull request's rule is not the baseline's

    @property
    def conclusion(self) -> str:
        """The check run's conclusion."""
        return {
            ScoreVerdict.PASSED: "success",
            ScoreVerdict.FAILED: "failure",
            ScoreVerdict.NO_BASELINE: "neutral",
        }[self.verdict]

    def headline(self) -> str:
        base = self.baseline.environment
        if self.check is None or self.check.rate is None:
            return f"not scored against {base}: {self.why}"
        return (
            f"{self.check.agreed} of {self.check.compared} answers agree with {base}'s "
            f"({self.check.rate:.1%}, min_agreement {self.check.min_agreement:.1%}): "
            f"{self.verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "verdict": str(self.verdict),
            "baseline": {
                "environment": self.baseline.environment,
                "endpoint": self.baseline.endpoint,
                "deployment": record.deployment if record else None,
                "recorded_at": record.recorded_at if record else None,
                "commit": record.commit if record else None,
            },
            "deployment": self.deployment,
            "judged_by": record.judging.as_dict() if record else None,
            "own_rule_differs": self.own_rule_differs,
            "new_requests": list(self.new_requests),
            "check": self.check.as_dict() if self.check else None,
            "why": self.why,
        }


def not_scored(baseline: Baseline, deployment: str, why: str) -> Scorecard:
    return Scorecard(baseline, deployment, ScoreVerdict.NO_BASELINE, why)


def score(
    baseline: Baseline,
    deployment: str,
    record: AnswerRecord,
    answered: Sequence[tuple[Request, Answer]],
    own: JudgingRule,
) -> Scorecard:
    """The preview's answers against the record, by the record's rule."""
    pairs = [
        (request.name, record.answers.get(request_key(request.body)), answer)
        for request, answer in answered
    ]
    new = tuple(name for name, recorded, _ in pairs if recorded is None)
    judged = Judged(
        f"against {baseline.environment}",
        deployment,
        f"{baseline.environment} ({record.deployment})",
        record.judging.min_agreement,
    )
    check = judge(judged, record.judging.rule, record.judging.validator(), pairs)
    if check.rate is None:
        why = (
            f"none of the {len(pairs)} requests has an answer recorded by {baseline.environment} "
            "(they are new or changed in this pull request)"
            if len(new) == len(pairs)
            else check.why
        )
        return Scorecard(
            baseline,
            deployment,
            ScoreVerdict.NO_BASELINE,
            why,
            record,
            check,
            new,
            own != record.judging,
        )
    verdict = (
        ScoreVerdict.PASSED if check.verdict is AgreementVerdict.PASSED else ScoreVerdict.FAILED
    )
    return Scorecard(baseline, deployment, verdict, "", record, check, new, own != record.judging)

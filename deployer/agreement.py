"""rollout.agreement: the request set sent to the known-good deployment and to the candidate,
their answers compared request by request (comparison.py), the share that agrees judged against
`min_agreement`, and each side's latency.

The requests go through a `Scorer` (deployer/scoring.py over the endpoint's scoring URI with
the `azureml-model-deployment` header, an in-memory fake in the unit tests), one at a time, the
known-good's answer first, so both see the same load. What the models answered is untrusted: an
example keeps at most EXAMPLE_CHARS of each answer, and only MAX_EXAMPLES are kept per check."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from deployer.comparison import compare
from deployer.deadline import Deadline
from deployer.files import MAX_REQUEST_BYTES, MAX_SCHEMA_BYTES, UnreadableFile, read_bounded
from deployer.spec.model import AgreementSpec, CompareKind, CompareRule

MAX_EXAMPLES = 5  # disagreeing requests shown per check
EXAMPLE_CHARS = 300  # of each answer shown


@dataclass(frozen=True)
class Request:
    name: str  # its file's name
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What one deployment answered: `failure` says why there is nothing to compare."""

    status: int | None
    body: bytes = b""
    latency_ms: float | None = None
    failure: str | None = None  # "timeout", "not read whole", ...

    def parsed(self) -> tuple[Any, str | None]:
        """The answer's JSON, or why it has none to compare."""
        if self.failure is not None or self.status is None:
            return None, self.failure or "no answer"
        if not 200 <= self.status < 300:
            return None, f"HTTP {self.status}"
        try:
            return json.loads(self.body), None
        except (ValueError, RecursionError):
            return None, f"HTTP {self.status}, not JSON"

    def text(self) -> str:
        if self.failure is not None or self.status is None:
            return f"({self.failure or 'no answer'})"
        shown = self.body[: EXAMPLE_CHARS * 4].decode("utf-8", "replace")
        if len(shown) > EXAMPLE_CHARS or len(self.body) > EXAMPLE_CHARS * 4:
            shown = shown[:EXAMPLE_CHARS] + " …"
        return shown if 200 <= self.status < 300 else f"HTTP {self.status}: {shown}"


class Scorer(Protocol):
    """One scoring request to one deployment of the endpoint."""

    def score(self, deployment: str, body: bytes, timeout: float) -> Answer: ...


class AgreementVerdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_JUDGED = "not judged"  # nothing to compare with: a first deploy


@dataclass(frozen=True)
class Example:
    request: str
    reason: str
    known_good: str
    candidate: str

    def as_dict(self) -> dict[str, str]:
        return {
            "request": self.request,
            "reason": self.reason,
            "known_good": self.known_good,
            "candidate": self.candidate,
        }


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


@dataclass(frozen=True)
class Latency:
    p50_ms: float | None
    p99_ms: float | None
    failures: int  # requests it did not answer with 2xx JSON

    @classmethod
    def of(cls, answers: list[Answer], failures: int) -> Latency:
        taken = [a.latency_ms for a in answers if a.latency_ms is not None]
        return cls(percentile(taken, 0.5), percentile(taken, 0.99), failures)

    def describe(self) -> str:
        if self.p50_ms is None or self.p99_ms is None:
            return "no latency"
        failed = f", {self.failures} unanswered" if self.failures else ""
        return f"p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms{failed}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 1),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 1),
            "failures": self.failures,
        }


NO_LATENCY = Latency(None, None, 0)


@dataclass(frozen=True)
class Check:
    """One stage's comparison of the candidate with the known-good."""

    stage: str  # "before traffic", "canary 10%", "shadow 20%"
    candidate: str
    known_good: str | None
    verdict: AgreementVerdict
    min_agreement: float
    compared: int = 0
    agreed: int = 0
    skipped: int = 0  # not compared: the known-good had no answer to compare with
    candidate_latency: Latency = NO_LATENCY
    known_good_latency: Latency = NO_LATENCY
    examples: tuple[Example, ...] = ()
    why: str = ""  # why it was not judged, or failed without a comparison

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    def describe(self) -> str:
        if self.verdict is AgreementVerdict.NOT_JUDGED:
            return f"{self.stage}: not judged ({self.why})"
        if self.rate is None:
            return f"{self.stage}: {self.verdict} ({self.why})"
        skipped = f", {self.skipped} not compared" if self.skipped else ""
        return (
            f"{self.stage}: {self.agreed} of {self.compared} answers agree ({self.rate:.1%}, "
            f"min_agreement {self.min_agreement:.1%}{skipped}) → {self.verdict}; "
            f"{self.candidate}: {self.candidate_latency.describe()}; "
            f"{self.known_good}: {self.known_good_latency.describe()}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "deployment": self.candidate,
            "known_good": self.known_good,
            "verdict": str(self.verdict),
            "compared": self.compared,
            "agreed": self.agreed,
            "not_compared": self.skipped,
            "agreement": None if self.rate is None else round(self.rate, 4),
            "min_agreement": self.min_agreement,
            "latency": {
                "deployment": self.candidate_latency.as_dict(),
                "known_good": self.known_good_latency.as_dict(),
            },
            "disagreements": [example.as_dict() for example in self.examples],
            "why": self.why,
        }


@dataclass(frozen=True)
class Judged:
    """Who is compared with whom, where, against which threshold."""

    stage: str
    candidate: str
    known_good: str
    min_agreement: float


def judge(
    judged: Judged,
    rule: CompareRule,
    schema: Draft202012Validator | None,
    pairs: Sequence[tuple[str, Answer | None, Answer]],
) -> Check:
    """The candidate's answers against the known-good's, request by request: `pairs` is (the
    request's name, the known-good's answer or None when there is none to compare with, the
    candidate's answer)."""
    ours: list[Answer] = []
    theirs: list[Answer] = []
    compared = agreed = skipped = failed_ours = failed_theirs = 0
    examples: list[Example] = []
    for name, expected, given in pairs:
        ours.append(given)
        answer, problem = given.parsed()
        failed_ours += problem is not None
        if expected is None:
            skipped += 1
            continue
        theirs.append(expected)
        known, missing = expected.parsed()
        failed_theirs += missing is not None
        if missing is not None:
            skipped += 1
            continue
        if problem is not None:
            compared += 1
            reason = f"no answer to compare: {problem}"
        else:
            result = compare(rule, known, answer, schema)
            if result.agrees is None:
                skipped += 1
                continue
            compared += 1
            if result.agrees:
                agreed += 1
                continue
            reason = result.reason
        if len(examples) < MAX_EXAMPLES:
            examples.append(Example(name, reason, expected.text(), given.text()))
    passed = compared > 0 and meets(agreed, compared, judged.min_agreement)
    why = (
        ""
        if compared
        else f"none of the {len(pairs)} requests could be compared: the known-good "
        "deployment answered none with 2xx JSON the rule can read"
    )
    return Check(
        judged.stage,
        judged.candidate,
        judged.known_good,
        AgreementVerdict.PASSED if passed else AgreementVerdict.FAILED,
        judged.min_agreement,
        compared,
        agreed,
        skipped,
        Latency.of(ours, failed_ours),
        Latency.of(theirs, failed_theirs),
        tuple(examples),
        why,
    )


def load_requests(spec: AgreementSpec) -> tuple[Request, ...]:
    """The request set, read once before anything changes (validation checked each file)."""
    return tuple(
        Request(path.name, read_bounded(path, MAX_REQUEST_BYTES)) for path in spec.requests
    )


def load_schema(spec: AgreementSpec) -> Draft202012Validator | None:
    if spec.compare.kind is not CompareKind.SCHEMA or spec.compare.schema is None:
        return None
    try:
        return Draft202012Validator(json.loads(read_bounded(spec.compare.schema, MAX_SCHEMA_BYTES)))
    except (ValueError, RecursionError) as exc:
        raise UnreadableFile("is no longer a valid JSON Schema") from exc


def meets(agreed: int, compared: int, minimum: float) -> bool:
    """agreed / compared >= minimum, exactly as written (0.07 * 100 is 7.000000000000001 in
    floating point, which 7 agreeing of 100 would miss)."""
    return Fraction(agreed, compared) >= Fraction(repr(minimum))


@dataclass
class Agreement:
    """Every check of a rollout, stage after stage."""

    spec: AgreementSpec
    requests: tuple[Request, ...]
    schema: Draft202012Validator | None = None
    checks: list[Check] = field(default_factory=list)

    def not_judged(self, stage: str, candidate: str, why: str) -> Check:
        check = Check(
            stage,
            candidate,
            None,
            AgreementVerdict.NOT_JUDGED,
            self.spec.min_agreement,
            why=why,
        )
        self.checks.append(check)
        return check

    def check(
        self,
        stage: str,
        candidate: str,
        known_good: str,
        scorer: Scorer,
        deadline: Deadline | None = None,
    ) -> Check:
        """Every request to both; within `deadline` (the rollout's timeout and the workflow's
        cancellation, which stop the check and fail the stage)."""
        pairs: list[tuple[str, Answer | None, Answer]] = []
        for request in self.requests:
            expected = scorer.score(known_good, request.body, self._timeout(deadline))
            given = scorer.score(candidate, request.body, self._timeout(deadline))
            pairs.append((request.name, expected, given))
        check = judge(
            Judged(stage, candidate, known_good, self.spec.min_agreement),
            self.spec.compare,
            self.schema,
            pairs,
        )
        self.checks.append(check)
        return check

    def _timeout(self, deadline: Deadline | None) -> float:
        if deadline is None:
            return float(self.spec.timeout_seconds)
        deadline.check("comparing the answers of the known-good and the new deployment")
        return min(float(self.spec.timeout_seconds), deadline.remaining())

    def verdict(self) -> str:
        if any(check.verdict is AgreementVerdict.FAILED for check in self.checks):
            return str(AgreementVerdict.FAILED)
        if any(check.verdict is AgreementVerdict.PASSED for check in self.checks):
            return str(AgreementVerdict.PASSED)
        return str(AgreementVerdict.NOT_JUDGED)

"""Production's answers to rollout.agreement's request set, as a production deploy records them
for the previews' scorecards (deployer/scorecard.py).

A pull request's run may not call production (it never holds production's keys nor loads it),
so the run that made a deployment production's records what that deployment answers, once,
when it goes live: one JSON document in the workspace's default storage. A preview reads it and
compares its own answers with it. Each answer is keyed by the SHA-256 of its request's bytes, so
a request a pull request adds or edits has no recorded answer and is said to be new, never
compared with another request's answer. The record carries the rule production judges by
(compare rule, inline response schema, min_agreement): a preview is scored by production's
rule, so a pull request cannot loosen its own scorecard.

What is read back is checked field by field and bounded: storage is not this run's own memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from deployer.agreement import Answer, Request
from deployer.files import MAX_AGREEMENT_REQUESTS, MAX_SCHEMA_BYTES, read_bounded
from deployer.spec.model import AgreementSpec, CompareKind, CompareRule
from deployer.tags import Record

FORMAT = 1
MAX_ANSWER_BYTES = 16 * 1024  # of one answer recorded; a longer one is recorded as too long
MAX_RECORD_BYTES = 32 * 1024 * 1024  # a record over this is not read
_KEYS = (
    "endpoint",
    "deployment",
    "serving",
    "recorded_at",
    "commit",
    "run_url",
    "rule",
    "answers",
)


class UnreadableRecord(ValueError):
    """The stored record is not one this version of the action wrote (or it was changed)."""


def serving_identity(record: Record) -> str | None:
    """What an endpoint's known-good deployment runs, as its rollout record says: its name, its
    image or assets, its settings. A deployment updated in place, or an endpoint made again
    with a deployment of the same name, is another identity, so its old answers are stale."""
    if record.known_good is None:
        return None
    parts = (record.known_good, record.known_good_image or "", record.known_good_settings or "")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def judging_of(spec: AgreementSpec) -> JudgingRule:
    """The rule a deploy file's rollout.agreement judges by, its schema file read in."""
    schema = None
    if spec.compare.kind is CompareKind.SCHEMA and spec.compare.schema is not None:
        schema = json.loads(read_bounded(spec.compare.schema, MAX_SCHEMA_BYTES))
    return JudgingRule(replace(spec.compare, schema=None), spec.min_agreement, schema)


def request_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class JudgingRule:
    """The rule production judges answers by, carried with its answers."""

    rule: CompareRule
    min_agreement: float
    schema: Any = None  # SCHEMA: the JSON Schema itself (the file stays with production's spec)

    def validator(self) -> Draft202012Validator | None:
        return Draft202012Validator(self.schema) if self.rule.kind is CompareKind.SCHEMA else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "compare": str(self.rule.kind),
            "pointer": self.rule.pointer,
            "absolute": self.rule.absolute,
            "relative": self.rule.relative,
            "schema": self.schema,
            "min_agreement": self.min_agreement,
        }

    def describe(self) -> str:
        match self.rule.kind:
            case CompareKind.POINTER:
                how = f"pointer {self.rule.pointer}"
            case CompareKind.TOLERANCE:
                how = f"tolerance absolute {self.rule.absolute:g}, relative {self.rule.relative:g}"
            case _:
                how = str(self.rule.kind)
        return f"{how}, min_agreement {self.min_agreement:.1%}"


@dataclass(frozen=True)
class AnswerRecord:
    endpoint: str
    deployment: str
    serving: str  # serving_identity of what the deployment ran when it answered
    recorded_at: str  # UTC, as tags write it
    commit: str
    run_url: str | None
    judging: JudgingRule
    answers: Mapping[str, Answer]  # by request_key

    def to_bytes(self) -> bytes:
        value = {
            "format": FORMAT,
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "serving": self.serving,
            "recorded_at": self.recorded_at,
            "commit": self.commit,
            "run_url": self.run_url,
            "rule": self.judging.as_dict(),
            "answers": {key: _answer_dict(answer) for key, answer in self.answers.items()},
        }
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    def covers(self, serving: str, requests: Iterable[Request], judging: JudgingRule) -> bool:
        """Whether it already records what `serving` answers to `requests`, under `judging`."""
        return (
            self.serving == serving
            and self.judging == judging
            and all(request_key(request.body) in self.answers for request in requests)
        )


def recorded(answers: Iterable[tuple[Request, Answer]]) -> dict[str, Answer]:
    """Answers as a record keeps them: a longer one than MAX_ANSWER_BYTES as too long."""
    limit = f"longer than {MAX_ANSWER_BYTES // 1024} KiB"
    return {
        request_key(request.body): (
            answer
            if len(answer.body) <= MAX_ANSWER_BYTES
            else Answer(answer.status, b"", answer.latency_ms, limit)
        )
        for request, answer in answers
    }


def _answer_dict(answer: Answer) -> dict[str, Any]:
    return {
        "status": answer.status,
        "body": base64.b64encode(answer.body).decode(),
        "latency_ms": answer.latency_ms,
        "failure": answer.failure,
    }


def parse_record(data: bytes) -> AnswerRecord:
    if len(data) > MAX_RECORD_BYTES:
        raise UnreadableRecord(f"it is larger than {MAX_RECORD_BYTES // 2**20} MiB")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UnreadableRecord("it is not JSON") from exc
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise UnreadableRecord(f"it is not a format-{FORMAT} record of this action")
    missing = [key for key in _KEYS if key not in value]
    if missing:
        raise UnreadableRecord(f"it lacks {', '.join(missing)}")
    answers = value["answers"]
    if not isinstance(answers, dict) or len(answers) > MAX_AGREEMENT_REQUESTS:
        raise UnreadableRecord(f"its answers are not a map of at most {MAX_AGREEMENT_REQUESTS}")
    return AnswerRecord(
        endpoint=_text(value, "endpoint"),
        deployment=_text(value, "deployment"),
        serving=_text(value, "serving"),
        recorded_at=_text(value, "recorded_at"),
        commit=_text(value, "commit"),
        run_url=None if value["run_url"] is None else _text(value, "run_url"),
        judging=_judging(value["rule"]),
        answers={_key(key): _answer(raw) for key, raw in answers.items()},
    )


def _text(value: Mapping[str, Any], key: str, limit: int = 2000) -> str:
    found = value.get(key)
    if not isinstance(found, str) or len(found) > limit:
        raise UnreadableRecord(f"its {key} is not a short text")
    return found


def _key(key: str) -> str:
    if len(key) != 64 or any(char not in "0123456789abcdef" for char in key):
        raise UnreadableRecord("an answer's key is not a request's SHA-256")
    return key


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnreadableRecord(f"its {what} is not a finite number")
    return float(value)


def _answer(raw: Any) -> Answer:
    if not isinstance(raw, dict):
        raise UnreadableRecord("an answer is not an object")
    status, failure, latency = raw.get("status"), raw.get("failure"), raw.get("latency_ms")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise UnreadableRecord("an answer's status is not a number")
    if failure is not None and (not isinstance(failure, str) or len(failure) > 300):
        raise UnreadableRecord("an answer's failure is not a short text")
    try:
        body = base64.b64decode(str(raw.get("body", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableRecord("an answer's body is not base64") from exc
    if len(body) > MAX_ANSWER_BYTES:
        raise UnreadableRecord(f"an answer is longer than {MAX_ANSWER_BYTES // 1024} KiB")
    return Answer(
        status,
        body,
        None if latency is None else _number(latency, "latency"),
        failure,
    )


def _judging(raw: Any) -> JudgingRule:
    if not isinstance(raw, dict):
        raise UnreadableRecord("its rule is not an object")
    try:
        kind = CompareKind(str(raw.get("compare")))
    except ValueError as exc:
        raise UnreadableRecord("its compare rule is not one this action knows") from exc
    pointer = raw.get("pointer", "")
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise UnreadableRecord("its pointer is not a JSON pointer")
    minimum = _number(raw.get("min_agreement"), "min_agreement")
    if not 0 <= minimum <= 1:
        raise UnreadableRecord("its min_agreement is not between 0 and 1")
    schema = raw.get("schema")
    if kind is CompareKind.SCHEMA:
        if not isinstance(schema, dict | bool) or len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
            raise UnreadableRecord("its response schema is not a JSON Schema of at most 1 MiB")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise UnreadableRecord("its response schema is not a JSON Schema") from exc
    rule = CompareRule(
        kind,
        pointer,
        _number(raw.get("absolute", 0), "absolute tolerance"),
        _number(raw.get("relative", 0), "relative tolerance"),
    )
    return JudgingRule(rule, minimum, schema if kind is CompareKind.SCHEMA else None)

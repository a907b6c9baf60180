"""Endpoint name templates: `credit-risk-pr{pr}` → a valid, deterministic Azure ML name.

Azure ML endpoint names are 3-32 characters, a letter first, then letters, digits or '-', not
ending in '-', and unique per region. Rendering substitutes the placeholders, lower-cases,
replaces every other character with '-', collapses repeated '-', trims '-' at both ends and,
when the result is longer than 32 characters, keeps the first 25 and appends '-' and 6 hex
characters of the SHA-256 of the full name, so the same pull request always gets the same
endpoint.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from deployer.diagnostics import did_you_mean
from deployer.errors import NameTemplateError

PLACEHOLDERS = ("pr", "branch", "sha", "short_sha", "tag", "run_id")
MIN_LENGTH = 3
MAX_LENGTH = 32
_HASH_LENGTH = 6
_KEEP = MAX_LENGTH - _HASH_LENGTH - 1

_ASCII_LETTERS = string.ascii_letters
AZURE_NAME = re.compile(r"^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$")
_INVALID = re.compile(r"[^a-z0-9-]")
_DASHES = re.compile(r"-{2,}")

# Values no real run exceeds, chosen to break names: 6-digit PR numbers, long branch names with
# slashes and non-ASCII letters, and values that shrink to nothing once invalid characters go.
WORST_CASES: tuple[Mapping[str, str], ...] = (
    {
        "pr": "999999",
        "branch": "feature/JIRA-123456_Über-long-branch.name/with/slashes-and-more-words",
        "sha": "f" * 40,
        "short_sha": "fffffff",
        "tag": "v10.20.30-rc.1+build.123456",
        "run_id": "99999999999",
    },
    {
        # The smallest contribution of each placeholder: free text that sanitizes to nothing,
        # one-digit numbers.
        "pr": "1",
        "branch": "é",
        "sha": "0" * 40,
        "short_sha": "0000000",
        "tag": "é",
        "run_id": "1",
    },
)


@dataclass(frozen=True)
class _Part:
    text: str
    is_placeholder: bool


def _parse(template: str) -> list[_Part]:
    parts: list[_Part] = []
    position = 0
    while position < len(template):
        opening = template.find("{", position)
        closing = template.find("}", position)
        if closing != -1 and (opening == -1 or closing < opening):
            raise NameTemplateError("has a '}' without a matching '{'")
        if opening == -1:
            parts.append(_Part(template[position:], False))
            break
        if opening > position:
            parts.append(_Part(template[position:opening], False))
        closing = template.find("}", opening)
        if closing == -1:
            raise NameTemplateError("has a '{' without a matching '}'")
        parts.append(_Part(template[opening + 1 : closing], True))
        position = closing + 1
    return parts


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholders a (valid) template uses, in order."""
    return tuple(part.text for part in _parse(template) if part.is_placeholder)


def template_problems(template: str) -> list[str]:
    """Everything that stops `template` from rendering to a valid name in every run."""
    try:
        parts = _parse(template)
    except NameTemplateError as exc:
        return [str(exc)]
    problems = _unknown_placeholders(parts)
    invalid = sorted(
        {char for part in parts if not part.is_placeholder for char in part.text}
        - set(_ASCII_LETTERS + string.digits + "-")
    )
    if invalid:
        shown = " ".join(repr(char) for char in invalid)
        problems.append(f"contains {shown}; Azure ML names allow only letters, digits and '-'")
    if not parts or parts[0].is_placeholder or parts[0].text[:1] not in _ASCII_LETTERS:
        problems.append(
            "must start with a letter; put fixed text first, e.g. 'app-{pr}'"
            if parts and parts[0].is_placeholder
            else "must start with a letter (a-z)"
        )
    if problems:
        return problems
    if not any(part.is_placeholder for part in parts):
        return _literal_name_problems(template)
    for values in WORST_CASES:
        try:
            render(template, values)
        except NameTemplateError as exc:
            used = ", ".join(f"{{{name}}}={values[name]!r}" for name in placeholders(template))
            return [f"{exc} when {used}"]
    return []


def placeholder_problems(template: str) -> list[str]:
    """Unbalanced braces and unknown placeholders: what stops any template (an endpoint name
    or an image reference) from rendering."""
    try:
        return _unknown_placeholders(_parse(template))
    except NameTemplateError as exc:
        return [str(exc)]


def _unknown_placeholders(parts: list[_Part]) -> list[str]:
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    problems = []
    for part in parts:
        if part.is_placeholder and part.text not in PLACEHOLDERS:
            suggestion = did_you_mean(
                "{" + part.text + "}", ["{" + name + "}" for name in PLACEHOLDERS]
            )
            problems.append(
                f"uses the unknown placeholder {{{part.text}}}{suggestion} (known: {known})"
            )
    return problems


def substitute(template: str, values: Mapping[str, str]) -> str:
    """`template` with its placeholders replaced as they are (no name rules applied), e.g. an
    image reference; NameTemplateError when this run has no value for one."""
    pieces: list[str] = []
    for part in _parse(template):
        if not part.is_placeholder:
            pieces.append(part.text)
            continue
        value = values.get(part.text)
        if not value:
            raise NameTemplateError(f"uses {{{part.text}}}, but this run has no {part.text}")
        pieces.append(value)
    return "".join(pieces)


def check_template(template: str) -> None:
    """Raise NameTemplateError (with the first problem) unless `template` is usable."""
    problems = template_problems(template)
    if problems:
        raise NameTemplateError(problems[0])


def _literal_name_problems(name: str) -> list[str]:
    problems = []
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        problems.append(f"must be {MIN_LENGTH}-{MAX_LENGTH} characters long (got {len(name)})")
    if name.endswith("-"):
        problems.append("must not end with '-'")
    return problems


def render(template: str, values: Mapping[str, str]) -> str:
    """Render `template` with `values` into a valid Azure ML endpoint name.

    Raises NameTemplateError when a placeholder has no value in this run, or when the template
    itself cannot give a valid name (which `check_template` reports in advance).
    """
    full = _DASHES.sub("-", _INVALID.sub("-", substitute(template, values).lower())).strip("-")
    name = full
    if len(name) > MAX_LENGTH:
        digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
        name = f"{full[:_KEEP].rstrip('-')}-{digest}"
    if len(name) < MIN_LENGTH:
        raise NameTemplateError(
            f"renders to {name!r}, shorter than {MIN_LENGTH} characters; add fixed text"
        )
    if name[0] not in _ASCII_LETTERS:
        raise NameTemplateError(f"renders to {name!r}, which does not start with a letter")
    return name


def is_valid_endpoint_name(name: str) -> bool:
    return MIN_LENGTH <= len(name) <= MAX_LENGTH and AZURE_NAME.fullmatch(name) is not None

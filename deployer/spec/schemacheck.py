"""JSON Schema validation of a located document, with messages a person can act on."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from deployer.diagnostics import did_you_mean
from deployer.spec.findings import Finding, error
from deployer.spec.source import Document, JsonPath

# YAML 1.1 reads these unquoted words as booleans; a user who wrote them meant a string.
_YAML_BOOLEAN_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false"}
_KEY_HINTS = {
    "ttl_hours": "; it belongs in an environment overlay, e.g. environments.preview.ttl_hours",
    "environments": "; environments are only allowed at the top level, not inside an overlay",
    "version": "; `version` is only allowed at the top level",
}
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


@cache
def deploy_schema() -> dict[str, Any]:
    """The deploy file's JSON Schema, as shipped in ``schema/deploy.schema.json``."""
    text = resources.files("deployer").joinpath("deploy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(deploy_schema())


def schema_findings(document: Document) -> list[Finding]:
    """Every schema violation in `document`, each at the place in the file it concerns."""
    findings: list[Finding] = []
    for violation in _validator().iter_errors(document.data):
        findings.extend(_findings(violation, document))
    return findings


def _findings(violation: ValidationError, document: Document) -> Iterator[Finding]:
    path: JsonPath = tuple(violation.absolute_path)
    keyword = str(violation.validator)
    kind = f"schema:{keyword}"
    schema = violation.schema if isinstance(violation.schema, dict) else {}
    custom = schema.get("errorMessage")
    instance: Any = violation.instance

    if "propertyNames" in violation.schema_path:
        # The offending thing is a key of the mapping at `path`, not a value.
        key_path = (*path, str(instance))
        detail = f"is not a valid name: {custom}" if custom else f"is not a valid name ({keyword})"
        yield error(key_path, detail, document.key_mark(key_path), kind)
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            key_path = (*path, key)
            hint = _KEY_HINTS.get(key) or did_you_mean(key, known)
            if not hint and known:
                hint = f" (known keys: {', '.join(known)})"
            yield error(key_path, f"is not a known key{hint}", document.key_mark(key_path), kind)
    elif keyword == "required" and isinstance(instance, dict):
        required: Any = violation.validator_value
        for key in required:
            if key not in instance:
                detail = custom or "is required"
                yield error((*path, key), detail, document.key_mark(path), kind)
    else:
        detail = _detail(violation, custom, document.scalar_text.get(path))
        # A problem with a whole mapping is shown at its key, a problem with a value at the value.
        is_mapping = isinstance(instance, dict)
        mark = document.key_mark(path) if is_mapping else document.value_mark(path)
        yield error(path, detail, mark, kind)


def _detail(violation: ValidationError, custom: str | None, source_text: str | None) -> str:
    keyword = violation.validator
    expected: Any = violation.validator_value
    instance: Any = violation.instance
    got = f" (got {_describe(instance, source_text)})"
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        return f"must be {wanted}{got}{_quote_hint(instance, source_text, names)}"
    if keyword == "enum":
        choices = [str(choice) for choice in expected]
        suggestion = did_you_mean(str(instance), choices) if isinstance(instance, str) else ""
        return f"must be one of {', '.join(choices)}{got}{suggestion}"
    if custom:
        return f"{custom}{got}" if keyword in ("pattern", "const") else custom
    simple = {
        "const": f"must be {json.dumps(expected)}",
        "minimum": f"must be >= {expected}",
        "maximum": f"must be <= {expected}",
        "exclusiveMinimum": f"must be > {expected}",
        "exclusiveMaximum": f"must be < {expected}",
        "minItems": f"must have at least {expected} item{'s' if expected != 1 else ''}",
        "maxItems": f"must have at most {expected} items",
        "pattern": f"must match the pattern {expected}",
    }
    if keyword in simple:
        return simple[keyword] + got
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"must be at most {expected} characters (got {len(instance)})"
    return f"is invalid: {violation.message}"


def _describe(value: Any, source_text: str | None) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {source_text or str(value).lower()}"
    if isinstance(value, int | float):
        return source_text or repr(value)
    if isinstance(value, datetime.date):
        return f"the date {source_text or value.isoformat()}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _quote_hint(value: Any, source_text: str | None, expected: list[str]) -> str:
    if "string" not in expected or source_text is None:
        return ""
    if value is None:
        return "; give a value or remove the key"
    if isinstance(value, bool) and source_text.lower() in _YAML_BOOLEAN_WORDS:
        return f'; YAML reads {source_text} as a boolean, quote it: "{source_text}"'
    if isinstance(value, datetime.date):
        return f'; YAML reads it as a date, quote it: "{source_text}"'
    return f'; quote it: "{source_text}"'

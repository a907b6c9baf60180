"""az ml's own reading of an endpoint or deployment file: azure-ai-ml's loaders
(`load_online_endpoint`, `load_online_deployment`, what `az ml online-deployment create -f`
runs), so that a field means here what it means to az ml, and what az ml refuses is refused
here too, at its line.

The loaders report a marshmallow ValidationError whose messages follow the file's fields
(`{"instance_count": ["Not a valid integer."]}`); a field az ml reads as one of several shapes
(a model is a reference or an inline model) reports every shape's complaint. What the
deploy file's own checks say better (a missing file, a reference's shape) is left to them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deployer.spec.findings import Finding, error
from deployer.spec.source import Document, JsonPath

# azure-ai-ml's complaints that the deploy file's own checks make, at the same place, better:
_LEFT_TO_OUR_CHECKS = (
    "In order to specify an existing",  # a reference's shape, tried on an inline value too
    "No such file or directory",
    "FileNotFoundError",
)


def sdk_findings(
    path: Path, what: str, document: Document, overrides: dict[str, str]
) -> list[Finding]:
    """What azure-ai-ml refuses in the az ml `what` file ("endpoint" or "deployment") at
    `path`, each at its line in `document` (the same file, located). `overrides` sets what
    az ml's command line would (`--endpoint-name`), as `params_override`."""
    from marshmallow import ValidationError

    with _quiet():
        from azure.ai.ml import load_online_deployment, load_online_endpoint

        load = load_online_deployment if what == "deployment" else load_online_endpoint
        try:
            load(source=path, params_override=[overrides] if overrides else None)
        except ValidationError as exc:
            return _findings(_fields(exc.messages), document, path.parent)
        except Exception as exc:  # noqa: BLE001 - the loader's other refusals, as it words them
            message = _relative(str(exc).split("\n", 1)[0], path.parent)
            return [error((), f"az ml would refuse this file: {message}", document.key_mark(()))]
    return []


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The loaders print notices ("This is an experimental class") to the log and stderr."""
    logger = logging.getLogger("azure.ai.ml")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def _findings(messages: Any, document: Document, folder: Path) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[JsonPath, str]] = set()
    for field, said in _leaves(messages, ()):
        if any(part in said for part in _LEFT_TO_OUR_CHECKS):
            continue
        text = _relative(said.strip(), folder)
        if text.startswith("Validation for ") or (field, text) in seen:
            continue
        seen.add((field, text))
        where = _written(field, document)
        if len(field) > 1 and where != field and text == "Missing data for required field.":
            # what one of a union's shapes needs and another does not (an inline
            # environment's name): the value is read as the other shape
            continue
        detail = (
            "is not a field az ml knows"
            if text == "Unknown field."
            else f"is refused by az ml: {text}"
        )
        value_wrong = where == field and text != "Unknown field."
        mark = document.value_mark(where) if value_wrong else document.key_mark(where)
        findings.append(error(field, detail, mark))
    return findings


def _fields(messages: Any) -> Any:
    """The loaders re-raise marshmallow's error with its messages as one text:
    "Validation for ManagedOnlineDeploymentSchema failed:\n\n {<the messages, as JSON>} …"."""
    if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], str):
        text = messages[0]
        start = text.find("{")
        if start >= 0:
            with contextlib.suppress(ValueError):
                return json.JSONDecoder().raw_decode(text, start)[0]
    return messages


def _leaves(messages: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                yield from _leaves(value, path)
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                yield from _leaves(value, (*path, int(key)))
            else:
                yield from _leaves(value, (*path, str(key)))
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from _leaves(item, path)
    else:
        yield path, str(messages)


def _written(field: JsonPath, document: Document) -> JsonPath:
    """The longest part of `field` the file writes (a missing field's parent)."""
    for length in range(len(field), 0, -1):
        if field[:length] in document.locations:
            return field[:length]
    return ()


def _relative(text: str, folder: Path) -> str:
    """Messages name files by absolute path; the user wrote them relative to the file."""
    return text.replace(f"{folder.resolve()}/", "").replace(f"{folder}/", "")

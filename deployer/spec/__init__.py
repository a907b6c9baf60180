"""The deploy file: load with positions, validate the base and every overlay, build the spec.

Validation never touches the network and needs no credentials, so it also runs on pull
requests from forks. It reports every problem it can find, each at its line and column.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from deployer.diagnostics import Problem, has_errors
from deployer.errors import InvalidDeployFileError, UsageError
from deployer.spec.azml import azml_problems
from deployer.spec.azml_files import NO_FILES, SECTIONS, GivenFiles, expand_azml_files
from deployer.spec.findings import Finding
from deployer.spec.model import DeploySpec, build_spec
from deployer.spec.overlay import merge
from deployer.spec.rules import (
    Places,
    baseline_findings,
    finite_findings,
    preview_findings,
    rule_findings,
)
from deployer.spec.schemacheck import schema_findings
from deployer.spec.source import (
    FILE_START,
    Document,
    JsonPath,
    LoadResult,
    Location,
    Mark,
    load_document,
)

__all__ = [
    "DeployFile",
    "DeploySpec",
    "ValidationReport",
    "load_deploy_spec",
    "validate_deploy_file",
]

MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DeployFile:
    """A valid deploy file: the base and each environment, resolved."""

    path: Path
    base: DeploySpec
    environments: Mapping[str, DeploySpec] = field(default_factory=lambda: MappingProxyType({}))

    def select(self, environment: str | None) -> DeploySpec:
        if environment is None:
            return self.base
        return self.environments[environment]


@dataclass(frozen=True)
class ValidationReport:
    problems: tuple[Problem, ...]
    environment_names: tuple[str, ...]
    deploy_file: DeployFile | None  # None when there is any error

    @property
    def valid(self) -> bool:
        return self.deploy_file is not None


def read_deploy_file(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise UsageError(
                f"{path} is a directory, not a deploy file",
                hint=f"pass the file itself, e.g. --config {path / 'deploy.yml'}",
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise UsageError(
            f"deploy file {path} not found",
            hint="pass its path with --config (the action's `config` input); "
            "paths are relative to the working directory",
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot read deploy file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(
            f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB; is it a deploy file?"
        )
    return raw


def validate_deploy_file(
    path: Path,
    *,
    environment: str | None = None,
    workspace: Path,
    given: GivenFiles = NO_FILES,
) -> ValidationReport:
    """Validate `path`: the base and every overlay, or the base and just `environment`.
    `given` az ml files are the base's endpoint and deployment; with them, `path` need not
    exist (the deploy file is then theirs alone, and paths are relative to their folder).

    Raises UsageError when a file cannot be read or `environment` is not defined in it.
    """
    path, loaded = _load(path, given, workspace)
    if loaded.document is None:
        return ValidationReport(tuple(sorted(loaded.problems)), (), None)
    document = loaded.document
    azml = azml_problems(document)
    if azml is not None:
        return ValidationReport(tuple(azml), (), None)
    folder = path.resolve().parent
    document = _with_given(document, given, folder)
    expanded = expand_azml_files(document, folder, workspace)
    if expanded.incomplete:
        found = [*loaded.problems, *expanded.problems, *expanded.refused]
        return ValidationReport(tuple(sorted(found, key=_in_file_order)), (), None)
    document = expanded.document
    places = Places(folder=folder, workspace=workspace)
    overlays = document.get(("environments",))
    environment_names = tuple(overlays) if isinstance(overlays, dict) else ()
    if environment is not None and environment not in environment_names:
        defined = ", ".join(environment_names) or "none"
        raise UsageError(
            f"environment {environment!r} is not defined in {path} (defined: {defined})",
            hint="add it under `environments:` in the deploy file, or pick a defined one",
        )

    chosen = environment_names if environment is None else (environment,)
    collector = _Collector([*loaded.problems, *expanded.problems])
    collector.add([finding for finding in schema_findings(document) if _concerns(finding, chosen)])
    collector.add([finding for finding in finite_findings(document) if _concerns(finding, chosen)])
    base = _without_environments(document)
    collector.add(rule_findings(base, places))

    merged_documents: dict[str, Document] = {}
    for name in chosen:
        overlay = document.subdocument(("environments", name))
        if not isinstance(overlay.data, dict):
            continue  # reported by the schema check
        overlay_body = _without_keys(overlay, "ttl_hours")
        # an environment's own az ml file is its whole section, not a change to the base's
        replaced = [s for s in SECTIONS if ("environments", name, s) in expanded.replaced]
        merged = merge(_without_keys(base, *replaced), overlay_body)
        merged_documents[name] = merged
        prefix = f"environment {name!r}: "
        collector.add(schema_findings(merged), prefix)
        collector.add(rule_findings(merged, places), prefix)
        if _ttl(document, name) is not None:
            collector.add(list(preview_findings(merged)), prefix)
            baselines = {other: _ttl(document, other) is None for other in environment_names}
            collector.add(list(baseline_findings(merged, baselines)), prefix)

    problems = _with_refused(collector.problems(), expanded.refused)
    if has_errors(list(problems)):
        return ValidationReport(problems, environment_names, None)
    environments = {
        name: build_spec(merged, path, name, _ttl(document, name))
        for name, merged in merged_documents.items()
    }
    deploy_file = DeployFile(
        path=path,
        base=build_spec(base, path, None, None),
        environments=MappingProxyType(environments),
    )
    return ValidationReport(problems, environment_names, deploy_file)


def _with_refused(problems: tuple[Problem, ...], refused: list[Problem]) -> tuple[Problem, ...]:
    """az ml's own refusals, at lines where the deploy file's checks found nothing: the same
    mistake is said once, in the action's words (which name the deploy file's field)."""
    said = {(problem.file, problem.line) for problem in problems}
    extra = [problem for problem in refused if (problem.file, problem.line) not in said]
    return tuple(sorted([*problems, *extra], key=_in_file_order))


def _in_file_order(problem: Problem) -> tuple[str, int, int]:
    return (problem.file, problem.line, problem.column)


def _load(path: Path, given: GivenFiles, workspace: Path) -> tuple[Path, LoadResult]:
    """The deploy file (where its paths start, and its text), or for az ml files given alone
    a deploy file of nothing else, beside the deployment file."""
    files = (("deploy", path), ("endpoint", given.endpoint), ("deployment", given.deployment))
    for what, file in files:
        if file is not None and not file.resolve().is_relative_to(workspace.resolve()):
            raise UsageError(
                f"the {what} file {file} is outside the workspace",
                hint="give a path inside the repository",
            )
        if file is not None and what != "deploy" and not file.is_file():
            raise UsageError(
                f"the az ml {what} file {file} is not a file",
                hint="give its path relative to the working directory",
            )
    if given and not path.exists():
        # the az ml files alone: a deploy file with nothing but them, beside the deployment's
        if given.deployment is None:
            raise UsageError(
                f"an endpoint file alone says nothing to deploy, and there is no {path}",
                hint="give the az ml deployment file too (--deployment-file, the action's "
                "`deployment-file` input)",
            )
        empty = Document({"version": 1}, {(): Location(FILE_START)}, {})
        return given.deployment.parent / "deploy.yml", LoadResult(empty, [])
    return path, load_document(read_deploy_file(path))


def load_deploy_spec(
    path: Path, environment: str | None, *, workspace: Path, given: GivenFiles = NO_FILES
) -> DeploySpec:
    """The spec to deploy, or InvalidDeployFileError carrying every problem."""
    report = validate_deploy_file(path, environment=environment, workspace=workspace, given=given)
    if report.deploy_file is None:
        raise InvalidDeployFileError(
            f"{path} is invalid", problems=report.problems, hint="run `azureml-deploy validate`"
        )
    return report.deploy_file.select(environment)


def _with_given(document: Document, given: GivenFiles, folder: Path) -> Document:
    """The deploy file with the given az ml files as its base's `{file: …}` sections (their
    other keys kept, to override the files')."""
    if not given:
        return document
    data = dict(document.data)
    locations = dict(document.locations)
    for section, file in (("endpoint", given.endpoint), ("deployment", given.deployment)):
        if file is None:
            continue
        current = data.get(section)
        kept = (
            {k: v for k, v in current.items() if k != "file"} if isinstance(current, dict) else {}
        )
        data[section] = {"file": os.path.relpath(file.resolve(), folder), **kept}
        locations.pop((section, "file"), None)
    return Document(data, locations, dict(document.scalar_text))


def _concerns(finding: Finding, environments: tuple[str, ...]) -> bool:
    """Whether a finding of the whole file is about the base or one of `environments`."""
    path = finding.path
    return not (len(path) >= 2 and path[0] == "environments" and path[1] not in environments)


class _Collector:
    """Problems without repeats.

    The same problem is found more than once: a base problem again in every merged overlay,
    an overlay problem both in the file as written and in the merge. It is reported once.
    """

    def __init__(self, initial: list[Problem]) -> None:
        self._problems = list(initial)
        self._seen: set[tuple[Mark, JsonPath, str, str]] = set()

    def add(self, findings: list[Finding], prefix: str = "") -> None:
        for finding in findings:
            path = finding.path
            if len(path) >= 2 and path[0] == "environments":
                path = path[2:]  # the same place as in the merged document
            wording = "" if finding.kind.startswith("schema:") else finding.detail
            key = (finding.mark, path, finding.kind, wording)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._problems.append(finding.problem(prefix))

    def problems(self) -> tuple[Problem, ...]:
        """The deploy file's, then each az ml file's, in file order; at the same place, the
        base's problem before its environments'."""
        unique = list(dict.fromkeys(self._problems))
        return tuple(sorted(unique, key=_in_file_order))


def _without_environments(document: Document) -> Document:
    return _without_keys(document, "environments")


def _without_keys(document: Document, *keys: str) -> Document:
    data = {key: value for key, value in document.data.items() if key not in keys}
    locations = {p: loc for p, loc in document.locations.items() if not (p and p[0] in keys)}
    texts = {p: text for p, text in document.scalar_text.items() if not (p and p[0] in keys)}
    return Document(data, locations, texts)


def _ttl(document: Document, environment: str) -> float | None:
    value = document.get(("environments", environment, "ttl_hours"))
    return float(value) if isinstance(value, int | float) else None

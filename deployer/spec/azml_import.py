"""`azureml-deploy import`: the deploy file that says what az ml endpoint and deployment files
say, with a comment on every field: where it came from, or why it was not carried over.

The fields are the ones `deployment: {file: …}` would read (azml_files.translate), so the
written file and the az ml files deploy the same deployment; only the rollout (blue-green, az
ml's way of creating a second deployment and moving traffic by hand) and a commented smoke test
are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployer.diagnostics import Problem, Severity, one_line
from deployer.errors import UsageError
from deployer.files import UnreadableFile, read_bounded
from deployer.spec.azml import azml_kind
from deployer.spec.azml_files import MAX_FILE_BYTES, Translation, shown_path, translate
from deployer.spec.findings import Finding
from deployer.spec.source import load_document, render_path


@dataclass
class Imported:
    text: str  # the deploy file, or "" when a file could not be read as az ml reads it
    problems: list[Problem] = field(default_factory=list)
    carried: int = 0  # fields written into the deploy file
    left_out: list[str] = field(default_factory=list)  # "file:line field: why"


def sort_files(paths: list[Path]) -> tuple[Path | None, Path]:
    """(the endpoint file, the deployment file) among the given az ml files."""
    endpoints: list[Path] = []
    deployments: list[Path] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path} is not a file", hint="give the az ml files' paths")
        loaded = load_document(_read(path), file=str(path))
        kind = azml_kind(loaded.document.data) if loaded.document is not None else None
        if kind is not None and kind[0] != "managed":
            raise UsageError(
                f"{path} is an az ml {kind[0]} online {kind[1]} file",
                hint="azureml-deploy deploys to managed online endpoints only",
            )
        what = kind[1] if kind is not None else "endpoint"  # an endpoint names no endpoint_name
        (deployments if what == "deployment" else endpoints).append(path)
    if len(deployments) != 1 or len(endpoints) > 1:
        raise UsageError(
            f"give one az ml deployment file and at most one endpoint file (got "
            f"{len(deployments)} deployment and {len(endpoints)} endpoint files)",
            hint="e.g. azureml-deploy import endpoint.yml blue-deployment.yml",
        )
    return (endpoints[0] if endpoints else None), deployments[0]


def import_files(
    endpoint: Path | None, deployment: Path, output: Path, workspace: Path
) -> Imported:
    """The deploy file at `output` that says what `endpoint` and `deployment` say."""
    folder = output.resolve().parent
    sections: dict[str, Translation] = {}
    imported = Imported("")
    for what, path in (("endpoint", endpoint), ("deployment", deployment)):
        if path is None:
            continue
        loaded = load_document(_read(path), file=shown_path(path))
        imported.problems.extend(loaded.problems)
        if loaded.document is None or loaded.problems:
            continue
        translation = translate(loaded.document, path.resolve(), what, folder, workspace)
        imported.problems.extend(finding.problem() for finding in translation.refused)
        sections[what] = translation
    if any(problem.severity is Severity.ERROR for problem in imported.problems):
        return imported
    lines = [
        one_line(
            "# Written by `azureml-deploy import` from "
            + " and ".join(shown_path(path) for path in (endpoint, deployment) if path)
            + "."
        ),
        "# Each field says where it came from; what was not carried over is said where it",
        "# would be. Validate with `azureml-deploy validate`; see the README for the rest.",
        "version: 1",
        "",
    ]
    endpoint_lines = _section(sections.get("endpoint"), "endpoint", imported)
    if "endpoint" not in sections or "name" not in sections["endpoint"].section.data:
        named = sections["deployment"].endpoint_name
        if named is not None:
            name, mark = named
            endpoint_lines[1:1] = [
                one_line(f"  # {shown_path(deployment)}:{mark.line} endpoint_name"),
                *_field("name", name),
            ]
            imported.carried += 1
    lines += [*endpoint_lines, ""]
    lines += [*_section(sections["deployment"], "deployment", imported), ""]
    lines += [
        "rollout:",
        "  # az ml creates a second deployment and moves traffic by hand; here each deploy",
        "  # rolls out a new deployment and moves all traffic once its smoke test passes",
        "  strategy: blue-green",
        "",
        "# A scoring request the new deployment must answer before it gets any traffic:",
        "# smoke_test:",
        "#   request: sample-request.json",
        "#   expect_status: 200",
    ]
    imported.text = "\n".join(lines) + "\n"
    return imported


def _read(path: Path) -> bytes:
    try:
        return read_bounded(path.resolve(), MAX_FILE_BYTES)
    except UnreadableFile as exc:
        raise UsageError(f"{path} {exc}", hint="give the az ml files' paths") from exc


def _section(translation: Translation | None, name: str, imported: Imported) -> list[str]:
    lines = [f"{name}:"]
    if translation is None:
        return lines
    source = translation.section
    for key, value in source.data.items():
        origin = translation.origins.get(key, (key,))
        mark = source.key_mark((key,))
        came = render_path(origin) if origin == (key,) else f"az ml's {render_path(origin)}"
        lines += [one_line(f"  # {mark.file}:{mark.line} {came}"), *_field(key, value)]
        imported.carried += 1
    for finding in translation.findings:
        lines.append(f"  # {_left_out(finding)}")
        if finding.severity is Severity.ERROR:
            imported.left_out.append(_left_out(finding))
    return lines


def _left_out(finding: Finding) -> str:
    mark = finding.mark
    return one_line(f"{mark.file}:{mark.line} {finding.message()}")


def _field(key: str, value: Any) -> list[str]:
    text = yaml.safe_dump({key: value}, default_flow_style=False, sort_keys=False, width=96)
    return [f"  {line}" for line in text.rstrip("\n").split("\n")]

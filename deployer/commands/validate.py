"""`azureml-deploy validate`: check the deploy file offline, report every problem at its line."""

from __future__ import annotations

import os
from pathlib import Path

from deployer.diagnostics import Severity, one_line
from deployer.errors import ExitCode
from deployer.github.runner import Runner
from deployer.scorecard import baseline_environment
from deployer.spec import DeployFile, DeploySpec, ValidationReport, validate_deploy_file
from deployer.spec.azml_files import NO_FILES, GivenFiles

# Shown next to a name template so the user sees what it becomes.
EXAMPLE_VALUES = {
    "pr": "123",
    "branch": "main",
    "sha": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "short_sha": "3f2a9c1",
    "tag": "v1.2.0",
    "run_id": "8123456789",
}


def run_validate(
    config: str, environment: str | None, runner: Runner, root: Path, given: GivenFiles = NO_FILES
) -> ExitCode:
    path = Path(config)
    report = validate_deploy_file(path, environment=environment, workspace=root, given=given)
    runner.problems(report.problems, config)
    if given and not path.exists():  # the az ml files alone
        config = " and ".join(str(file) for file in (given.endpoint, given.deployment) if file)
    if report.deploy_file is None:
        errors = _count(report, Severity.ERROR, "error")
        runner.info(f"{one_line(config)}: {errors}; nothing was deployed")
        return ExitCode.FAILURE
    runner.result(_summary(config, report, report.deploy_file))
    return ExitCode.OK


def _count(report: ValidationReport, severity: Severity, word: str) -> str:
    count = sum(1 for problem in report.problems if problem.severity is severity)
    return f"{count} {word}{'s' if count != 1 else ''}" if count else ""


def _summary(config: str, report: ValidationReport, deploy_file: DeployFile) -> str:
    checked = ["base", *deploy_file.environments]
    heading = f"{one_line(config)} is valid ({', '.join(checked)})"
    said = [_count(report, Severity.WARNING, "warning"), _count(report, Severity.NOTICE, "note")]
    if any(said):
        heading += ", with " + " and ".join(part for part in said if part)
    rows = [("environment", "endpoint", "runs", "deployment", "rollout")]
    defined = tuple(deploy_file.environments)
    rows.append(_row("(base)", deploy_file.base, defined))
    rows.extend(_row(name, spec, defined) for name, spec in deploy_file.environments.items())
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([heading, "", *lines])


def _runs(spec: DeploySpec) -> str:
    """What the deployment runs, in a few words: the image, or Azure ML's assets."""
    folder = spec.source.resolve().parent

    def shown(path: Path) -> str:
        return Path(os.path.relpath(path, folder)).as_posix()

    image, deployment = spec.image, spec.deployment
    parts = []
    if image.build is not None:
        parts.append(f"build {shown(image.build.context)} -> {image.registry}/{image.repository}")
    elif image.ref is not None:
        parts.append(f"ref {image.ref}")
    model = deployment.model
    if model is not None:
        what = model.reference or ""
        if model.path is not None:
            what = shown(model.path) + "/" * model.path.is_dir()
        parts.append(f"model {what}" + (" (mlflow)" if model.type == "mlflow_model" else ""))
    code = deployment.code_configuration
    if code is not None:
        parts.append(f"code {shown(code.code / code.scoring_script)}")
    environment = deployment.environment
    if environment is not None:
        if environment.reference is not None:
            parts.append(f"environment {environment.reference}")
        elif environment.build_context is not None:
            parts.append(f"environment build {shown(environment.build_context)}")
        else:
            conda = f" + {shown(environment.conda_file)}" if environment.conda_file else ""
            parts.append(f"environment {environment.image}{conda}")
    return ", ".join(parts)


def _row(label: str, spec: DeploySpec, defined: tuple[str, ...]) -> tuple[str, str, str, str, str]:
    endpoint = spec.endpoint.name_template
    if spec.endpoint.placeholders:
        endpoint += f" (e.g. {spec.endpoint.render_name(EXAMPLE_VALUES)})"
    source = _runs(spec)
    deployment = f"{spec.deployment.instance_count} x {spec.deployment.instance_type}"
    scale = spec.deployment.autoscale
    if scale is not None:
        deployment += f" (autoscale {scale.min_instances}-{scale.max_instances})"
    collector = spec.deployment.data_collector
    if collector is not None:
        deployment += f", collects {collector.summary()}"
    rollout = str(spec.rollout.strategy)
    if spec.rollout.strategy == "canary":
        rollout += " " + "/".join(str(step) for step in spec.rollout.canary_steps)
    if spec.rollout.shadow is not None:
        rollout += f", shadow {spec.rollout.shadow.percent}%"
    if spec.rollout.analysis is not None:
        rollout += ", analysis"
    if spec.rollout.agreement is not None:
        rollout += f", agreement ({len(spec.rollout.agreement.requests)} requests)"
    if spec.rollout.bake_minutes:
        rollout += f", bake {spec.rollout.bake_minutes:g} min"
    if spec.smoke_test is None:
        rollout += ", no smoke test"
    else:
        rollout += ", smoke test" if spec.smoke_test.source == "runner" else ", smoke test: none"
    if spec.ttl_hours is not None:
        rollout += f", ttl {spec.ttl_hours:g} h"
        agreement = spec.rollout.agreement
        against = baseline_environment(agreement.baseline, defined) if agreement else None
        if against is not None:
            rollout += f", scorecard vs {against}"
    return (label, endpoint, source, deployment, rollout)

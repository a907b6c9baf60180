"""`azureml-deploy import`: write the deploy file that says what az ml files say."""

from __future__ import annotations

from pathlib import Path

from deployer.diagnostics import one_line
from deployer.errors import ExitCode, UsageError
from deployer.github.runner import Runner
from deployer.spec import validate_deploy_file
from deployer.spec.azml_import import import_files, sort_files


def run_import(files: list[str], output: str, force: bool, runner: Runner, root: Path) -> ExitCode:
    target = Path(output)
    if not target.resolve().is_relative_to(root.resolve()):
        raise UsageError(
            f"{output} is outside the workspace",
            hint="write the deploy file inside the repository, e.g. --output deploy.yml",
        )
    if target.exists() and not force:
        raise UsageError(
            f"{output} already exists",
            hint="choose another file with --output, or replace it with --force",
        )
    endpoint, deployment = sort_files([Path(file) for file in files])
    imported = import_files(endpoint, deployment, target, root)
    runner.problems(imported.problems, output)
    if not imported.text:
        runner.info("the az ml files were not read: nothing was written")
        return ExitCode.FAILURE
    target.write_text(imported.text, encoding="utf-8")
    runner.info(
        f"wrote {one_line(output)}: {imported.carried} field(s) carried over, "
        f"{len(imported.left_out)} not (each said in a comment at its place)"
    )
    for left_out in imported.left_out:
        runner.info(f"  not carried over: {left_out}")
    report = validate_deploy_file(target, workspace=root)
    runner.problems(report.problems, output)
    if report.deploy_file is None:
        runner.info(f"{one_line(output)} is not valid yet: fix what is said above")
        return ExitCode.FAILURE
    shown = one_line(output)
    runner.result(f"{shown} is valid: deploy it with `azureml-deploy deploy --config {shown}`")
    return ExitCode.OK

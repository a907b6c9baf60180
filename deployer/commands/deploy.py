"""`deploy` and `plan`: the one pipeline (pipeline.py), executed or only shown."""

from __future__ import annotations

from collections.abc import Mapping

from deployer.errors import ExitCode
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.pipeline import DisplayOnlyExecutor, Executor, run_pipeline
from deployer.session import open_session


def run_deploy(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    return run_pipeline(open_session(options, runner, environ), Executor())


def run_plan(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    """The plan `deploy` would run now; nothing is changed, no lease is taken."""
    return run_pipeline(open_session(options, runner, environ), DisplayOnlyExecutor(runner))

"""The GitHub Actions runner's I/O: workflow commands (annotations, masks, groups) and files.

Escaping follows the runner: in data `%`, CR and LF are escaped; in properties also `:` and `,`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from deployer.diagnostics import Problem


def in_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """One workflow command line, e.g. ``::error file=deploy.yml,line=3::message``."""
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name}{' ' + rendered if rendered else ''}::{escape_data(message)}"


def problem_annotation(problem: Problem, file: str) -> str:
    return command(
        str(problem.severity),
        problem.message,
        file=file,
        line=problem.line,
        col=problem.column,
        title=file,
    )

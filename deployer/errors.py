"""One error hierarchy: every failure a user can meet says what happened and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from deployer.diagnostics import Problem


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the run failed, or the deploy file is invalid
    USAGE = 2  # the command line or the action inputs are wrong
    CANCELLED = 130


class DeployerError(Exception):
    """A failure with a message for the user and, where there is one, the fix."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(DeployerError):
    """The command was called wrongly (unknown option, missing file, unknown environment)."""

    exit_code = ExitCode.USAGE


class InvalidDeployFileError(DeployerError):
    """The deploy file has problems, each at its line and column."""

    def __init__(
        self, message: str, *, problems: Sequence[Problem] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)


class PolicyError(DeployerError):
    """The action refuses: this run may not change (or delete) what it was asked to."""


class Cancelled(DeployerError):
    """The workflow was cancelled (SIGTERM or SIGINT)."""

    exit_code = ExitCode.CANCELLED


class TimedOut(DeployerError):
    """A wait went past the rollout's timeout_minutes."""


class AzureError(DeployerError):
    """Azure refused or failed an operation: its error code and HTTP status, where known."""

    def __init__(
        self, message: str, *, code: str = "", status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status

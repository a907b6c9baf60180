"""Every error the action raises, in one place: each says what happened and what to do
(`message`, `hint`), carries its exit code, and keeps what caused it (`cause`)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

from deployer.diagnostics import Problem

if TYPE_CHECKING:
    from deployer.tags import Holder


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the run failed, or the deploy file is invalid
    USAGE = 2  # the command line or the action inputs are wrong
    CANCELLED = 130


class DeployerError(Exception):
    """A failure with a message for the user and, where there is one, the fix."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(
        self, message: str, *, hint: str | None = None, cause: BaseException | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self._cause = cause

    @property
    def cause(self) -> BaseException | None:
        """What caused it: given, or the exception it was raised from (`raise … from exc`)."""
        return self._cause or self.__cause__

    def causes(self) -> list[BaseException]:
        """The chain of causes, nearest first (each error's own cause, then its cause's)."""
        chain: list[BaseException] = []
        current: BaseException | None = self.cause
        while current is not None and current not in chain and len(chain) < 20:
            chain.append(current)
            current = (
                current.cause
                if isinstance(current, DeployerError)
                else current.__cause__ or current.__context__
            )
        return chain

    def diagnostics(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


# --- the command line and the deploy file ------------------------------------------------------


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


class NameTemplateError(DeployerError):
    """An endpoint name template cannot give a valid name (here, or for some run)."""


# --- what a run may do -------------------------------------------------------------------------


class PolicyError(DeployerError):
    """The action refuses: this run may not change (or delete) what it was asked to."""


class NothingToDo(PolicyError):
    """The command has nothing to act on (no kept deployment, no rollout in progress)."""


class Busy(DeployerError):
    """Another run holds the endpoint and this one was asked not to wait (--no-wait)."""


class LeaseHeld(DeployerError):
    """Another run holds the endpoint's lease (or changed the endpoint since it was planned):
    the caller waits and plans again."""

    def __init__(
        self,
        message: str,
        holder: Holder | None = None,
        until: datetime.datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.holder = holder
        self.until = until


# --- signing in, images, Azure -----------------------------------------------------------------


class OidcError(DeployerError):
    """The GitHub ID token could not be obtained."""


class SignInError(DeployerError):
    """Entra ID refused the sign-in."""


class GitHubApiError(DeployerError):
    """GitHub's REST API refused or failed a request. Never fails a run: the deployment
    statuses and the pull request comment are skipped with a one-line note."""

    def __init__(
        self, message: str, *, status: int | None = None, accepted_permissions: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.accepted_permissions = accepted_permissions  # x-accepted-github-permissions


class ImageError(DeployerError):
    """Building or pushing the image failed."""


class BuildSecretMissing(ImageError):
    """A build secret's environment variable or file is not there (checked before anything
    changes; the value itself is never read)."""


class AzureError(DeployerError):
    """Azure refused or failed an operation: its error code and HTTP status, where known."""

    def __init__(
        self, message: str, *, code: str = "", status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status


class ImagePullFailed(AzureError):
    """The deployment's image could not be pulled: Azure reports `BadArgument` ("Unable to
    download user container image") or `ResourceNotFound` ("Container registry is private or
    otherwise inaccessible"), the codes how-to-troubleshoot-online-endpoints documents."""

    @staticmethod
    def describes(code: str, message: str) -> bool:
        text = message.lower()
        if code == "BadArgument":
            return "container image" in text
        return code == "ResourceNotFound" and "container registry" in text


class EndpointNotSettled(AzureError):
    """Azure refused a deployment because its endpoint is in a running provisioning state —
    even just after the endpoint reported Succeeded: "Cannot create a deployment in endpoint
    {name} because it is in Updating provisioning state" (Azure/azure-sdk-for-net#36961)."""

    @staticmethod
    def describes(message: str) -> bool:
        text = message.lower()
        return "because it is in" in text and "provisioning state" in text


class ImageBuildFailed(AzureError):
    """Azure ML could not build the environment's image: `ImageBuildFailure`, its message
    naming where the build log is ("the build log under the storage account '<account>' in the
    container '<container>' at the path '<path>'", how-to-troubleshoot-online-endpoints.md)."""

    _WHERE = re.compile(
        r"storage account '(?P<account>[^']+)' in the container '(?P<container>[^']+)' at "
        r"the path '(?P<path>[^']+)'"
    )

    @staticmethod
    def describes(code: str, message: str) -> bool:
        return code == "ImageBuildFailure" or message.lower().startswith("image build failed")

    @property
    def log_location(self) -> tuple[str, str, str] | None:
        """(storage account, blob container, blob path) of the build log, if named."""
        found = self._WHERE.search(self.message)
        return (found["account"], found["container"], found["path"]) if found else None


class PreflightFailed(AzureError):
    """Azure would refuse the rollout (its VM size's quota, the endpoint or deployment limits):
    found before anything is built or changed."""


# --- waiting and rolling out -------------------------------------------------------------------


class Cancelled(DeployerError):
    """The workflow was cancelled (SIGTERM or SIGINT)."""

    exit_code = ExitCode.CANCELLED


class TimedOut(DeployerError):
    """A wait went past the rollout's timeout_minutes."""


class StepFailed(DeployerError):
    """A step of a plan failed (the executor then puts things right)."""


class RolloutFailed(StepFailed):
    """The rollout stopped and was undone: the message says how far; `cause` is the failure."""


class LeaseLost(StepFailed):
    """Another run took the lease over (this one was too slow to renew it)."""

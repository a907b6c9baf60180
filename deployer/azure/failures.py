"""Azure's errors, as the SDK raises them, turned into AzureError with a fix."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from deployer.auth import SignIn, explain
from deployer.errors import (
    AzureError,
    DeployerError,
    EndpointNotSettled,
    ImageBuildFailed,
    ImagePullFailed,
)


class Translated:
    """Turns the SDK's exceptions into AzureError with a fix."""

    def __init__(self, doing: str, sign_in: SignIn) -> None:
        self.doing = doing
        self.sign_in = sign_in

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        from azure.ai.ml.exceptions import MlException

        if error is None or isinstance(error, DeployerError):
            return
        if isinstance(error, ClientAuthenticationError):
            raise explain(error, self.sign_in.assertions) from error
        if isinstance(error, HttpResponseError):
            raise translate(error, self.doing) from error
        if isinstance(error, MlException):
            # The SDK's own checks, before any request was sent.
            first = str(error.message or error).strip().splitlines()
            raise AzureError(f"{self.doing} failed: {first[0] if first else error}") from error


def translate(error: HttpResponseError, doing: str) -> AzureError:
    code = getattr(getattr(error, "error", None), "code", None) or ""
    message = str(getattr(getattr(error, "error", None), "message", None) or error.message or error)
    message = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    status = error.status_code
    refused = status is not None and status >= 400  # else: the operation itself ended Failed
    inner = _details(error)
    if inner and message.rstrip(".") == "The request is invalid":
        message = f"{message} {inner[0][0]}: {inner[0][1]}"
    if any(_is_name_taken(detail_code, text) for detail_code, text in inner):
        hint: str | None = _NAME_TAKEN_HINT
    else:
        hint = hint_for(code, status, message)
    kind: type[AzureError] = AzureError
    if ImagePullFailed.describes(code, message):
        kind = ImagePullFailed
    elif EndpointNotSettled.describes(message):
        kind = EndpointNotSettled
    elif ImageBuildFailed.describes(code, message):
        kind = ImageBuildFailed
    return kind(
        f"Azure refused {doing}: {message}" if refused else f"{doing} failed: {message}",
        code=code,
        status=status,
        hint=hint,
    )


# Endpoint names are unique per region across every customer: Azure answers 400 BadRequest
# wrapping InferencingClientCallFailed (Azure/azureml-examples#1931,
# Azure/azure-cli-extensions#7660), not 409.
_NAME_TAKEN_HINT = (
    "endpoint names are unique per Azure region across all customers, and this one is taken: "
    "choose another endpoint.name, or make the name template more specific (e.g. add your "
    "organisation or repository: name: myorg-credit-risk-pr{pr})"
)


def _is_name_taken(code: str, text: str) -> bool:
    return code == "InferencingClientCallFailed" and "already an endpoint with this name" in text


def _details(error: HttpResponseError) -> list[tuple[str, str]]:
    """The (code, message) of the error's details, one level down, as Azure nests them."""
    found = []
    for detail in getattr(getattr(error, "error", None), "details", None) or []:
        code = str(getattr(detail, "code", "") or "")
        text = str(getattr(detail, "message", "") or "")
        found.append((code, text.strip().splitlines()[0] if text.strip() else ""))
    return found


def hint_for(code: str, status: int | None, message: str) -> str | None:
    if code == "AuthorizationFailed" or status == 403:
        return (
            "give the app registration the 'AzureML Data Scientist' role on the workspace "
            "(the action it lacks is named above)"
        )
    if code in ("ResourceGroupNotFound", "SubscriptionNotFound") or (
        code == "ResourceNotFound" and "workspaces/" in message
    ):
        return "check the subscription-id, resource-group and workspace inputs"
    if code == "OutOfQuota":
        return (
            "ask for more quota for this VM family, or use fewer or smaller instances "
            "(deployment.instance_count / instance_type); Azure ML reserves 20% extra for upgrades"
        )
    if ImagePullFailed.describes(code, message):
        return (
            "the deployment pulls with the endpoint's identity: grant it AcrPull (in an "
            "ABAC-mode registry: Container Registry Repository Reader) on the image's registry, "
            "and check that the image exists"
        )
    if ImageBuildFailed.describes(code, message):
        return (
            "Azure ML could not build the environment's image: its build log (above) names the "
            "step or package that failed; fix deployment.environment (its conda file or "
            "Dockerfile) and deploy again"
        )
    if code == "ResourceNotReady" and "Readiness" in message:
        return (
            "the container runs but its readiness route never answered 200: check that "
            "deployment.inference_config (ports and paths) matches what the server serves"
        )
    if code == "ResourceNotReady":
        return "the container keeps exiting; its log above shows why"
    if EndpointNotSettled.describes(message):
        return (
            "Azure can report an endpoint Updating just after it reported Succeeded "
            "(Azure/azure-sdk-for-net#36961); wait a few minutes and run again"
        )
    if status == 409:
        return (
            "another operation is running on this endpoint (another run of this workflow?); "
            "give the workflow a `concurrency` group per endpoint, or retry when it is done"
        )
    if code in ("UserError", "BadArgument") and "instance type" in message.lower():
        return "check deployment.instance_type against the managed online endpoint SKU list"
    return None

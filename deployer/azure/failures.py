"""Azure's errors, as the SDK raises them, turned into AzureError with a fix."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from deployer.auth import SignIn, explain
from deployer.azure.pull import is_image_pull
from deployer.errors import AzureError, DeployerError


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
            raise explain(error, self.sign_in.assertions) from None
        if isinstance(error, HttpResponseError):
            raise translate(error, self.doing) from None
        if isinstance(error, MlException):
            # The SDK's own checks, before any request was sent.
            first = str(error.message or error).strip().splitlines()
            raise AzureError(f"{self.doing} failed: {first[0] if first else error}") from None


def translate(error: HttpResponseError, doing: str) -> AzureError:
    code = getattr(getattr(error, "error", None), "code", None) or ""
    message = str(getattr(getattr(error, "error", None), "message", None) or error.message or error)
    message = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    status = error.status_code
    refused = status is not None and status >= 400  # else: the operation itself ended Failed
    return AzureError(
        f"Azure refused {doing}: {message}" if refused else f"{doing} failed: {message}",
        code=code,
        status=status,
        hint=hint_for(code, status, message),
    )


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
    if is_image_pull(AzureError(message, code=code)):
        return (
            "the deployment pulls with the endpoint's identity: grant it AcrPull (in an "
            "ABAC-mode registry: Container Registry Repository Reader) on the image's registry, "
            "and check that the image exists"
        )
    if code == "ResourceNotReady" and "Readiness" in message:
        return (
            "the container runs but its readiness route never answered 200: check that "
            "deployment.inference_config (ports and paths) matches what the server serves"
        )
    if code == "ResourceNotReady":
        return "the container keeps exiting; its log above shows why"
    if status == 409 and "unique per region" in message:
        return "endpoint names are unique per Azure region: choose another endpoint.name"
    if status == 409:
        return (
            "another operation is running on this endpoint (another run of this workflow?); "
            "give the workflow a `concurrency` group per endpoint, or retry when it is done"
        )
    if code in ("UserError", "BadArgument") and "instance type" in message.lower():
        return "check deployment.instance_type against the managed online endpoint SKU list"
    return None

"""Azure's answers become typed errors where the action acts on the kind (deployer/azure/
failures.py): an image the endpoint's identity cannot pull is ImagePullFailed, in the two shapes
how-to-troubleshoot-online-endpoints documents, with the fix."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from deployer.azure.failures import translate
from deployer.errors import AzureError, ImageBuildFailed, ImagePullFailed


class _Response:
    def __init__(self, status: int, body: str) -> None:
        self.status_code, self._body = status, body
        self.reason, self.request = "Bad Request", None
        self.headers: dict[str, str] = {}
        self.content_type = "application/json"

    def text(self, encoding: str | None = None) -> str:
        return self._body


def azure_error(code: str, message: str, status: int = 400) -> HttpResponseError:
    body = f'{{"error": {{"code": "{code}", "message": "{message}"}}}}'
    return HttpResponseError(response=_Response(status, body))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("BadArgument", "Unable to download user container image contosoml.azurecr.io/app:1"),
        ("ResourceNotFound", "Container registry is private or otherwise inaccessible"),
    ],
)
def test_an_image_pull_failure_is_typed_with_its_fix(code: str, message: str) -> None:
    error = translate(azure_error(code, message), "creating deployment blue")
    assert isinstance(error, ImagePullFailed)
    assert error.code == code and message in error.message
    assert error.hint is not None and "AcrPull" in error.hint


def test_other_failures_stay_azure_errors() -> None:
    error = translate(azure_error("BadArgument", "instance_count must be > 0"), "creating blue")
    assert type(error) is AzureError


def test_an_image_build_failure_is_typed_with_where_its_log_is() -> None:
    """Azure's wording for ImageBuildFailure (how-to-troubleshoot-online-endpoints.md)."""
    message = (
        "Image build failed: pip install returned 1. For more details, check the build log "
        "under the storage account 'mlwstore' in the container 'azureml' at the path "
        "'ImageLogs/azureml_0123/build.log'."
    )
    error = translate(azure_error("ImageBuildFailure", message), "provisioning blue")
    assert isinstance(error, ImageBuildFailed)
    assert error.log_location == ("mlwstore", "azureml", "ImageLogs/azureml_0123/build.log")
    assert error.hint is not None and "fix deployment.environment" in error.hint
    unnamed = translate(azure_error("ImageBuildFailure", "Image build failed."), "provisioning")
    assert isinstance(unnamed, ImageBuildFailed) and unnamed.log_location is None

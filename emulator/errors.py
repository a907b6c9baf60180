"""Azure's error codes the emulator answers with: one class per code, its HTTP status with it.

`raise BadArgument("...")` is ARM's `{"error": {"code": "BadArgument", "message": "..."}}` with
400; each raise keeps, beside it, the source that documents the rule it enforces. The envelope
itself is `emulator.http.ArmError` (also raised directly where the code comes from elsewhere: a
failed operation's own code).
"""

from __future__ import annotations

from typing import Any, ClassVar

from emulator.http import ArmError


class AzureError(ArmError):
    """An ARM error whose code and status are its class's."""

    STATUS: ClassVar[int]
    CODE: ClassVar[str]

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            self.STATUS, self.CODE, message, target=target, details=details, headers=headers
        )


# --- 400 Bad Request ---------------------------------------------------------------------------


class BadArgument(AzureError):
    STATUS = 400
    CODE = "BadArgument"


class BadRequest(AzureError):
    STATUS = 400
    CODE = "BadRequest"


class InvalidApiVersionParameter(AzureError):
    STATUS = 400
    CODE = "InvalidApiVersionParameter"


class InvalidRequestContent(AzureError):
    STATUS = 400
    CODE = "InvalidRequestContent"


class LocationRequired(AzureError):
    STATUS = 400
    CODE = "LocationRequired"


class MissingApiVersionParameter(AzureError):
    STATUS = 400
    CODE = "MissingApiVersionParameter"


class OutOfQuota(AzureError):
    STATUS = 400
    CODE = "OutOfQuota"


class TargetResourceNotFound(AzureError):
    STATUS = 400
    CODE = "TargetResourceNotFound"


class UnsupportedRequestContent(AzureError):
    STATUS = 400
    CODE = "UnsupportedRequestContent"


class UserError(AzureError):
    STATUS = 400
    CODE = "UserError"


# --- 401 Unauthorized --------------------------------------------------------------------------


class AuthenticationFailed(AzureError):
    STATUS = 401
    CODE = "AuthenticationFailed"


class ExpiredAuthenticationToken(AzureError):
    STATUS = 401
    CODE = "ExpiredAuthenticationToken"


class InvalidAuthenticationToken(AzureError):
    STATUS = 401
    CODE = "InvalidAuthenticationToken"


class InvalidAuthenticationTokenAudience(AzureError):
    STATUS = 401
    CODE = "InvalidAuthenticationTokenAudience"


# --- 403 Forbidden -----------------------------------------------------------------------------


class AuthorizationFailed(AzureError):
    STATUS = 403
    CODE = "AuthorizationFailed"


# --- 404 Not Found -----------------------------------------------------------------------------


class InvalidResourceType(AzureError):
    STATUS = 404
    CODE = "InvalidResourceType"


class NotFound(AzureError):
    STATUS = 404
    CODE = "NotFound"


class ResourceGroupNotFound(AzureError):
    STATUS = 404
    CODE = "ResourceGroupNotFound"


class ResourceNotFound(AzureError):
    STATUS = 404
    CODE = "ResourceNotFound"


class SubscriptionNotFound(AzureError):
    STATUS = 404
    CODE = "SubscriptionNotFound"


# --- 405 Method Not Allowed --------------------------------------------------------------------


class MethodNotAllowed(AzureError):
    STATUS = 405
    CODE = "MethodNotAllowed"


# --- 409 Conflict ------------------------------------------------------------------------------


class Conflict(AzureError):
    STATUS = 409
    CODE = "Conflict"


# --- 429 Too Many Requests ---------------------------------------------------------------------


class SubscriptionRequestsThrottled(AzureError):
    STATUS = 429
    CODE = "SubscriptionRequestsThrottled"


# --- 501 Not Implemented -----------------------------------------------------------------------


class SamplingTypeNotFound(AzureError):
    """Azure Monitor's answer to an aggregation a metric does not offer: 501 with "Sampling type
    is not found" (open-telemetry/opentelemetry-collector-contrib#43648); the code in the
    envelope is not public, so this one is the emulator's."""

    STATUS = 501
    CODE = "NotImplemented"

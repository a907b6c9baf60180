"""Small HTTP helpers shared by the parts: JSON responses and Azure's error shapes."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Azure answers with ", " / ": " separators and this content type.
    return Response(
        json.dumps(body),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


class ArmError(Exception):
    """An ARM error envelope: {"error": {"code", "message", "target", "details"}}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.headers = headers or {}

    def response(self) -> Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        error["details"] = self.details
        error["additionalInfo"] = []
        return json_response({"error": error}, self.status, self.headers)


async def json_body(request: Request, *, required: bool = True) -> Any:
    from emulator.errors import InvalidRequestContent  # emulator.errors imports this module

    raw = await request.body()
    if not raw.strip():
        if required:
            raise InvalidRequestContent("The request content was empty.")
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(
            f"The request content was invalid and could not be deserialized: {exc}.",
        ) from None

"""GitHub's OIDC ID tokens, requested as the actions toolkit does (`ACTIONS_ID_TOKEN_REQUEST_URL`
and `_TOKEN`, which the runner sets only for jobs with `permissions: id-token: write`)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping

import requests

from deployer.errors import OidcError
from deployer.github.runner import Runner

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience
_RETRIED_STATUSES = {502, 503, 504}


def can_request_id_tokens(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")) and bool(
        environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    )


def job_id_token(runner: Runner, audience: str = TOKEN_EXCHANGE_AUDIENCE) -> str:
    """A fresh ID token from the job's token service (masked before it is returned)."""
    environ = runner.environ
    return request_id_token(
        environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", ""),
        environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""),
        audience,
        runner,
    )


def request_id_token(url: str, request_token: str, audience: str, runner: Runner) -> str:
    """GET {url}&audience=…, as actions/toolkit does: bearer request token, retries on
    502/503/504 (up to 10 attempts)."""
    runner.mask(request_token)
    separator = "&" if "?" in url else "?"
    full = f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}"
    headers = {
        "Authorization": f"Bearer {request_token}",
        "Accept": "application/json",
        "User-Agent": "actions/oidc-client",
    }
    last = ""
    for attempt in range(10):
        try:
            response = requests.get(full, headers=headers, timeout=30)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}"
        else:
            if response.status_code == 200:
                value = _id_token_value(response)
                runner.mask(value)
                return value
            last = f"HTTP {response.status_code}"
            if response.status_code not in _RETRIED_STATUSES:
                break
        time.sleep(min(2**attempt * 0.2, 5))
    raise OidcError(
        f"could not get a GitHub OIDC ID token ({last})",
        hint="check that the job has `permissions: id-token: write`",
    )


def _id_token_value(response: requests.Response) -> str:
    try:
        value = response.json().get("value")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise OidcError("the ID token response has no `value`")
    return value

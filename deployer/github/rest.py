"""GitHub's REST API with the job's token: requests, pagination, rate limits and GitHub's errors.

Everything here is best effort for the caller (deployer/github/presence.py): a failure is a
`GitHubApiError` whose message is one line, never a failed deploy.

- Pagination follows the `Link` header's `rel="next"` (docs.github.com "Using pagination in
  the REST API"); `per_page` is at most 100.
- Rate limits (docs.github.com "Rate limits for the REST API", "Best practices for using the
  REST API"): a 403 or 429 with `x-ratelimit-remaining: 0` is the primary limit, reset at
  `x-ratelimit-reset` (epoch seconds); one with `retry-after` is a secondary limit, retried
  after that many seconds; otherwise wait at least a minute. A wait longer than the budget
  gives up instead: the deploy never waits on GitHub.
- 5xx and dropped connections are retried with a back-off, a few times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from deployer.diagnostics import one_line
from deployer.errors import GitHubApiError

API_VERSION = "2022-11-28"  # X-GitHub-Api-Version (docs.github.com "API Versions")
PER_PAGE = 100
MAX_PAGES = 30  # 3,000 items: far more comments than a pull request has
ATTEMPTS = 4
WAIT_BUDGET_SECONDS = 60.0  # the longest the whole integration waits on rate limits, per run
TIMEOUT = (5.0, 20.0)  # connect, read


@dataclass(frozen=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset: float | None  # epoch seconds

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> RateLimit:
        return cls(
            _int(headers.get("x-ratelimit-limit")),
            _int(headers.get("x-ratelimit-remaining")),
            _float(headers.get("x-ratelimit-reset")),
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class GitHubApi:
    """One repository's REST API, with a token (never printed; the caller masks it first)."""

    def __init__(
        self,
        api_url: str,
        repository: str,
        token: str,
        *,
        verify: str | bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "azureml-deploy",
            }
        )
        self._session.verify = verify
        self._sleep, self._clock = sleep, clock
        self.waited = 0.0  # seconds spent waiting on rate limits so far
        self.rate_limit: RateLimit | None = None

    def repo_path(self, path: str) -> str:
        return f"/repos/{self.repository}{path}"

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._call("GET", path, params=params).json()

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._call("POST", path, body=body).json()

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._call("PATCH", path, body=body).json()

    def paginate(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, page by page, as GitHub's `Link` header leads."""
        url: str | None = path
        query: Mapping[str, str | int] | None = {**(params or {}), "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._call("GET", url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubApiError(f"GitHub answered {url} with something other than a list")
            yield from items
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        raise GitHubApiError(f"GitHub lists more than {MAX_PAGES * PER_PAGE} items at {path}")

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        url = path if path.startswith(("https://", "http://")) else self.api_url + path
        if not url.startswith(self.api_url + "/"):
            # a Link header is GitHub's text: follow it only to the API we were given
            raise GitHubApiError("GitHub's pagination link leaves the API; not followed")
        where = f"{method} {path.removeprefix(self.api_url)}"
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._session.request(
                    method, url, params=params, json=body, timeout=TIMEOUT
                )
            except requests.RequestException as exc:
                if attempt == ATTEMPTS:
                    raise GitHubApiError(
                        f"cannot reach GitHub's API ({where}): {one_line(str(exc))[:200]}"
                    ) from exc
                self._back_off(attempt)
                continue
            self.rate_limit = RateLimit.of(response.headers)
            if response.status_code < 400:
                return response
            wait = self._rate_limited(response)
            if wait is not None and attempt < ATTEMPTS:
                self._wait(wait, where)
                continue
            if response.status_code >= 500 and attempt < ATTEMPTS:
                self._back_off(attempt)
                continue
            raise _refusal(response, where)
        raise AssertionError("unreachable")  # pragma: no cover

    def _rate_limited(self, response: requests.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited request; None if it is not one."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = _float(headers.get("retry-after"))
        if retry_after is not None:
            return max(retry_after, 0.0)
        limit = RateLimit.of(headers)
        if limit.remaining == 0:
            reset = limit.reset if limit.reset is not None else self._clock() + 60
            return max(reset - self._clock(), 0.0) + 1
        if response.status_code == 429 or "rate limit" in _message(response).lower():
            return 60.0  # a secondary limit without retry-after: "wait for at least one minute"
        return None

    def _wait(self, seconds: float, where: str) -> None:
        if self.waited + seconds > WAIT_BUDGET_SECONDS:
            raise GitHubApiError(
                f"GitHub's API rate limit was reached ({where}); it would take {seconds:.0f} s "
                "to retry, longer than azureml-deploy waits on GitHub",
                status=429,
            )
        self.waited += seconds
        self._sleep(seconds)

    def _back_off(self, attempt: int) -> None:
        self._sleep(min(2.0**attempt, 8.0))


def token_refused(failure: GitHubApiError) -> bool:
    """GitHub refused the job's token (a permission it lacks, a repository it cannot see),
    rather than a rate limit or an outage."""
    return failure.status in (403, 404) and "rate limit" not in failure.message


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _refusal(response: requests.Response, where: str) -> GitHubApiError:
    status = response.status_code
    said = one_line(_message(response))[:200] or response.reason or "no message"
    accepted = response.headers.get("x-accepted-github-permissions", "")
    return GitHubApiError(
        f"GitHub refused {where}: {status} {said}", status=status, accepted_permissions=accepted
    )

"""GitHub's REST API, the subset azureml-deploy uses: deployments, deployment statuses, issue
(pull request) comments, "Get a pull request" and check runs (emulator/github_checks.py), with
job tokens, their permissions and GitHub's rate limits.

Sources (docs.github.com):
- "REST API endpoints for deployments" and "... for deployment statuses": fields, defaults
  (task "deploy", environment "production", production_environment true only for
  "production"), states, `auto_inactive` ("Adds a new inactive status to all prior
  non-transient, non-production environment deployments with the same repository and
  environment name as the created status's deployment. An inactive status is only added to
  deployments that had a success state"), description of a status at most 140 characters.
- "REST API endpoints for issue comments": list ascending by id, `per_page` at most 100; a
  pull request's comments are its issue's.
- "REST API endpoints for pull requests", "Get a pull request"
  (`GET /repos/{owner}/{repo}/pulls/{pull_number}`): `number`, `state` "open" or "closed",
  `merged`, `merged_at`, `closed_at` (null while open), `head` and `base` with `ref`, `sha`,
  `label` and `repo.full_name` (a fork's head names the fork); 404 "Not Found" for a number
  that is no pull request. "Permissions required for fine-grained personal access tokens" /
  "... for GitHub Apps" list it under "Pull requests" (read); a merged pull request is closed.
- "Using pagination in the REST API": the `Link` header with rel="next" / "last".
- "Permissions required for GitHub Apps" / "Automatic token authentication": deployments need
  the Deployments permission, comments Issues or Pull requests; a token without it gets 403
  "Resource not accessible by integration" and `x-accepted-github-permissions`.
- "Rate limits for the REST API": GITHUB_TOKEN gets 1,000 requests per hour per repository;
  every answer carries x-ratelimit-limit/-remaining/-used/-reset/-resource; a spent primary
  limit answers 403 (or 429) with x-ratelimit-remaining 0; a secondary limit may send
  `retry-after`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.http import json_response
from emulator.identity import GITHUB_REPOSITORY
from emulator.ledger import LEDGER

GITHUB_TOKEN_RATE_LIMIT = 1000
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
DESCRIPTION_LIMIT = 140
COMMENT_LIMIT = 65536
DOCS = "https://docs.github.com/rest"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
# What opens each endpoint: any one of these permissions at the level the method needs.
DEPLOYMENTS = ("deployments",)
COMMENTS = ("pull_requests", "issues")  # a pull request's comments are its issue's
PULLS = ("pull_requests",)


@dataclass
class JobToken:
    repository: str
    permissions: dict[str, str]

    def allows(self, permission: str, write: bool) -> bool:
        level = self.permissions.get(permission, "none")
        return level == "write" or (level == "read" and not write)


@dataclass
class SecondaryLimit:
    status: int
    retry_after: int
    count: int


@dataclass
class GitHubState:
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    check_runs: list[dict[str, Any]] = field(default_factory=list)  # emulator/github_checks.py
    next_id: int = 1000
    remaining: int = GITHUB_TOKEN_RATE_LIMIT
    reset_at: int = 0
    secondary: SecondaryLimit | None = None
    requests: int = 0


class GitHubRest:
    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, JobToken] = {}
        self.state = GitHubState(reset_at=int(time.time()) + 3600)
        self._lock = threading.Lock()

    # --- admin --------------------------------------------------------------------------

    def mint(self, permissions: dict[str, str], repository: str | None = None) -> str:
        token = "ghs_" + secrets.token_urlsafe(27)[:36]
        # workflow files spell them pull-requests, the API pull_requests
        levels = {name.replace("-", "_"): level for name, level in permissions.items()}
        self.tokens[token] = JobToken(repository or GITHUB_REPOSITORY, levels)
        LEDGER.record("github-token", token)
        return token

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """rate_limit_remaining, secondary_limit, and pull_requests: a list of pull requests
        (`pull_request` below) added or replaced by number. Raises ValueError, KeyError or
        TypeError for a bad change, before changing anything."""
        pulls = [self.pull_request(**dict(spec)) for spec in changes.get("pull_requests", [])]
        with self._lock:
            for pull in pulls:
                self.state.pulls[pull["number"]] = pull
        if "rate_limit_remaining" in changes:
            self.state.remaining = int(changes["rate_limit_remaining"])
        if "secondary_limit" in changes:
            limit = changes["secondary_limit"]
            self.state.secondary = (
                None
                if limit is None
                else SecondaryLimit(
                    int(limit.get("status", 403)),
                    int(limit.get("retry_after", 60)),
                    int(limit.get("count", 1)),
                )
            )
        return self.describe()

    def pull_request(
        self,
        number: int,
        state: str = "open",
        merged: bool = False,
        *,
        head_ref: str | None = None,
        head_sha: str | None = None,
        head_repository: str | None = None,
        base_ref: str = "main",
        title: str | None = None,
    ) -> dict[str, Any]:
        """A pull request of the repository, as "Get a pull request" answers it (its relevant
        fields). `head_repository` is a fork's full name; the head is the repository's own
        branch otherwise."""
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"a pull request number is a positive integer, not {number!r}")
        if state not in ("open", "closed"):
            raise ValueError(f'a pull request\'s state is "open" or "closed", not {state!r}')
        if not isinstance(merged, bool):
            raise TypeError(f"merged is true or false, not {merged!r}")
        if merged and state != "closed":
            raise ValueError("a merged pull request is closed")
        now = self._now()
        ref = head_ref or f"pr-{number}"
        sha = head_sha or hashlib.sha1(f"{number}:{ref}".encode()).hexdigest()  # noqa: S324
        head_repo = head_repository or GITHUB_REPOSITORY
        api = f"{self.url}/repos/{GITHUB_REPOSITORY}"
        return {
            "url": f"{api}/pulls/{number}",
            "id": 1_000_000 + number,
            "node_id": f"PR_{number}",
            "html_url": f"https://github.com/{GITHUB_REPOSITORY}/pull/{number}",
            "issue_url": f"{api}/issues/{number}",
            "number": number,
            "state": state,
            "locked": False,
            "title": title or f"Pull request {number}",
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "created_at": now,
            "updated_at": now,
            "closed_at": now if state == "closed" else None,
            "merged_at": now if merged else None,
            "draft": False,
            "merged": merged,
            "head": {
                "label": f"{head_repo.split('/')[0]}:{ref}",
                "ref": ref,
                "sha": sha,
                "repo": {"full_name": head_repo, "fork": head_repo != GITHUB_REPOSITORY},
            },
            "base": {
                "label": f"{GITHUB_REPOSITORY.split('/')[0]}:{base_ref}",
                "ref": base_ref,
                "sha": hashlib.sha1(base_ref.encode()).hexdigest(),  # noqa: S324
                "repo": {"full_name": GITHUB_REPOSITORY, "fork": False},
            },
        }

    def reset(self) -> None:
        self.state = GitHubState(reset_at=int(time.time()) + 3600)

    def describe(self) -> dict[str, Any]:
        return {
            "deployments": [
                {**deployment, "statuses": list(self.state.statuses.get(deployment["id"], []))}
                for deployment in self.state.deployments
            ],
            "comments": {
                str(number): list(comments) for number, comments in self.state.comments.items()
            },
            "pull_requests": {str(number): pull for number, pull in self.state.pulls.items()},
            "check_runs": list(self.state.check_runs),
            "requests": self.state.requests,
            "rate_limit_remaining": self.state.remaining,
        }

    # --- the API ------------------------------------------------------------------------

    def app(self) -> Starlette:
        from emulator.github_checks import CheckRunRoutes  # it imports this module

        base = "/repos/{owner}/{repo}"
        return Starlette(
            routes=[
                Route("/rate_limit", self._rate_limit),
                Route(base + "/deployments", self._deployments, methods=["GET", "POST"]),
                Route(base + "/deployments/{id:int}", self._deployment),
                Route(
                    base + "/deployments/{id:int}/statuses",
                    self._statuses,
                    methods=["GET", "POST"],
                ),
                Route(
                    base + "/issues/{number:int}/comments",
                    self._issue_comments,
                    methods=["GET", "POST"],
                ),
                Route(
                    base + "/issues/comments/{id:int}",
                    self._comment,
                    methods=["GET", "PATCH", "DELETE"],
                ),
                Route(base + "/pulls/{number:int}", self._pull),
                *CheckRunRoutes(self).routes(base),
            ]
        )

    def _headers(self) -> dict[str, str]:
        used = GITHUB_TOKEN_RATE_LIMIT - max(self.state.remaining, 0)
        return {
            "x-ratelimit-limit": str(GITHUB_TOKEN_RATE_LIMIT),
            "x-ratelimit-remaining": str(max(self.state.remaining, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self.state.reset_at),
            "x-ratelimit-resource": "core",
            "x-github-request-id": secrets.token_hex(8).upper(),
            "x-github-api-version-selected": "2022-11-28",
        }

    def _error(
        self, status: int, message: str, extra: dict[str, str] | None = None, **body: Any
    ) -> Response:
        headers = {**self._headers(), **(extra or {})}
        return json_response(
            {"message": message, "documentation_url": DOCS, "status": str(status), **body},
            status,
            headers,
        )

    def _ok(self, body: Any, status: int = 200, extra: dict[str, str] | None = None) -> Response:
        return json_response(body, status, {**self._headers(), **(extra or {})})

    def _admit(
        self, request: Request, permissions: tuple[str, ...], accepted: str, write: bool
    ) -> Response | None:
        """The token, the repository, one of `permissions` and the rate limit, as GitHub
        checks them."""
        self.state.requests += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        job = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if job is None:
            return self._error(401, "Bad credentials")
        secondary = self.state.secondary
        if secondary is not None and secondary.count > 0:
            secondary.count -= 1
            return self._error(
                secondary.status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                "you try again.",
                {"retry-after": str(secondary.retry_after)},
            )
        if self.state.remaining <= 0:
            return self._error(
                403, "API rate limit exceeded for installation. Check out the documentation."
            )
        self.state.remaining -= 1
        owner, repo = request.path_params.get("owner"), request.path_params.get("repo")
        if owner is not None and f"{owner}/{repo}" != job.repository:
            return self._error(404, "Not Found")
        if not any(job.allows(permission, write) for permission in permissions):
            level = "write" if write else "read"
            return self._error(
                403,
                "Resource not accessible by integration",
                {"x-accepted-github-permissions": accepted.format(level=level)},
            )
        return None

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        try:
            per_page = min(max(int(request.query_params.get("per_page", "30")), 1), 100)
            page = max(int(request.query_params.get("page", "1")), 1)
        except ValueError:
            return self._error(422, "Validation Failed")
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        query = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                params = "&".join(
                    [
                        *(f"{k}={v}" for k, v in query.items()),
                        f"per_page={per_page}",
                        f"page={number}",
                    ]
                )
                links.append(f'<{self.url}{request.url.path}?{params}>; rel="{rel}"')
        return self._ok(chunk, extra={"link": ", ".join(links)} if links else None)

    def _new_id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id

    @staticmethod
    def _now() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    async def _rate_limit(self, request: Request) -> Response:
        core = {
            "limit": GITHUB_TOKEN_RATE_LIMIT,
            "remaining": max(self.state.remaining, 0),
            "reset": self.state.reset_at,
            "used": GITHUB_TOKEN_RATE_LIMIT - max(self.state.remaining, 0),
        }
        return self._ok({"resources": {"core": core}, "rate": core})

    async def _deployments(self, request: Request) -> Response:
        write = request.method == "POST"
        refused = self._admit(request, DEPLOYMENTS, "deployments={level}", write)
        if refused:
            return refused
        if not write:
            found = [
                deployment
                for deployment in reversed(self.state.deployments)  # newest first
                if all(
                    request.query_params.get(key) in (None, deployment[key])
                    for key in ("sha", "ref", "task", "environment")
                )
            ]
            return self._page(request, found)
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("ref"), str) or not body["ref"]:
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Deployment", "field": "ref", "code": "missing_field"}],
            )
        environment = str(body.get("environment") or "production")
        ref = body["ref"]
        deployment = {
            "id": self._new_id(),
            "url": f"{self.url}{request.url.path}",
            "sha": ref if len(ref) == 40 else "0" * 40,
            "ref": ref,
            "task": str(body.get("task") or "deploy"),
            "payload": body.get("payload") or {},
            "original_environment": environment,
            "environment": environment,
            "description": body.get("description"),
            "creator": BOT,
            "created_at": self._now(),
            "updated_at": self._now(),
            "transient_environment": bool(body.get("transient_environment", False)),
            "production_environment": bool(
                body.get("production_environment", environment == "production")
            ),
        }
        with self._lock:
            self.state.deployments.append(deployment)
            self.state.statuses[deployment["id"]] = []
        return self._ok(deployment, 201)

    def _find(self, identifier: int) -> dict[str, Any] | None:
        return next((d for d in self.state.deployments if d["id"] == identifier), None)

    async def _deployment(self, request: Request) -> Response:
        refused = self._admit(request, DEPLOYMENTS, "deployments={level}", False)
        if refused:
            return refused
        deployment = self._find(request.path_params["id"])
        return self._ok(deployment) if deployment else self._error(404, "Not Found")

    async def _statuses(self, request: Request) -> Response:
        write = request.method == "POST"
        refused = self._admit(request, DEPLOYMENTS, "deployments={level}", write)
        if refused:
            return refused
        deployment = self._find(request.path_params["id"])
        if deployment is None:
            return self._error(404, "Not Found")
        statuses = self.state.statuses[deployment["id"]]
        if not write:
            return self._page(request, list(reversed(statuses)))
        body = await _json(request)
        state = body.get("state") if isinstance(body, dict) else None
        if state not in STATES:
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "DeploymentStatus", "field": "state", "code": "invalid"}],
            )
        description = str(body.get("description") or "")
        if len(description) > DESCRIPTION_LIMIT:
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "DeploymentStatus", "field": "description", "code": "custom"}],
            )
        status = {
            "id": self._new_id(),
            "state": state,
            "description": description,
            "environment": deployment["environment"],
            "environment_url": str(body.get("environment_url") or ""),
            "log_url": str(body.get("log_url") or ""),
            "creator": BOT,
            "created_at": self._now(),
            "updated_at": self._now(),
            "deployment_url": deployment["url"],
        }
        with self._lock:
            statuses.append(status)
            if state == "success" and body.get("auto_inactive", True):
                self._auto_inactive(deployment)
        return self._ok(status, 201)

    def _auto_inactive(self, current: dict[str, Any]) -> None:
        for other in self.state.deployments:
            if other["id"] == current["id"] or other["environment"] != current["environment"]:
                continue
            if other["transient_environment"] or other["production_environment"]:
                continue
            statuses = self.state.statuses[other["id"]]
            if statuses and statuses[-1]["state"] == "success":
                statuses.append(
                    {
                        **statuses[-1],
                        "id": self._new_id(),
                        "state": "inactive",
                        "created_at": self._now(),
                    }
                )

    async def _issue_comments(self, request: Request) -> Response:
        write = request.method == "POST"
        refused = self._admit(request, COMMENTS, "issues={level}; pull_requests={level}", write)
        if refused:
            return refused
        number = request.path_params["number"]
        if number < 1:
            return self._error(404, "Not Found")
        comments = self.state.comments.setdefault(number, [])
        if not write:
            return self._page(request, list(comments))
        body = await _json(request)
        text = body.get("body") if isinstance(body, dict) else None
        invalid = self._invalid_body(text)
        if invalid:
            return invalid
        repository = f"{request.path_params['owner']}/{request.path_params['repo']}"
        identifier = self._new_id()
        comment = {
            "id": identifier,
            "node_id": f"IC_{identifier}",
            "body": text,
            "user": BOT,
            "created_at": self._now(),
            "updated_at": self._now(),
            "html_url": f"https://github.com/{repository}/pull/{number}#issuecomment-{identifier}",
            "issue_url": f"{self.url}/repos/{repository}/issues/{number}",
        }
        comments.append(comment)
        return self._ok(comment, 201)

    def _invalid_body(self, text: object) -> Response | None:
        if not isinstance(text, str) or not text:
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
            )
        if len(text) > COMMENT_LIMIT:
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "field": "body", "code": "custom"}],
            )
        return None

    async def _comment(self, request: Request) -> Response:
        write = request.method != "GET"
        refused = self._admit(request, COMMENTS, "issues={level}; pull_requests={level}", write)
        if refused:
            return refused
        identifier = request.path_params["id"]
        for comments in self.state.comments.values():
            for index, comment in enumerate(comments):
                if comment["id"] != identifier:
                    continue
                if request.method == "GET":
                    return self._ok(comment)
                if request.method == "DELETE":
                    del comments[index]
                    return Response(status_code=204, headers=self._headers())
                body = await _json(request)
                text = body.get("body") if isinstance(body, dict) else None
                invalid = self._invalid_body(text)
                if invalid:
                    return invalid
                comment["body"] = text
                comment["updated_at"] = self._now()
                return self._ok(comment)
        return self._error(404, "Not Found")

    async def _pull(self, request: Request) -> Response:
        """Get a pull request: needs Pull requests (read); 404 for a number that is none."""
        refused = self._admit(request, PULLS, "pull_requests={level}", False)
        if refused:
            return refused
        pull = self.state.pulls.get(request.path_params["number"])
        return self._ok(pull) if pull else self._error(404, "Not Found")


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None

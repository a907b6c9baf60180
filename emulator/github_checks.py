"""GitHub's check runs, the part of "REST API endpoints for check runs" (docs.github.com) that a
workflow's GITHUB_TOKEN uses: create, update, get, and list for a Git reference.

Sources (docs.github.com):
- "REST API endpoints for check runs": `POST /repos/{owner}/{repo}/check-runs` (201) needs
  `name` and `head_sha`; `status` is `queued` (the default), `in_progress` or `completed`
  ("Only GitHub Actions can set a status of waiting, pending, or requested"); `conclusion` is
  one of action_required, cancelled, failure, neutral, success, skipped, timed_out, "Required
  if you provide completed_at or a status of completed", and "Providing conclusion will
  automatically set the status parameter to completed. You cannot change a check run
  conclusion to stale, only GitHub can set this"; `output` needs `title` and `summary`, and
  `summary` and `text` have a "Maximum length: 65535 characters"; `details_url`,
  `external_id`. `PATCH .../check-runs/{check_run_id}` takes the same fields, all optional.
  `GET .../check-runs/{check_run_id}`; `GET .../commits/{ref}/check-runs` answers
  `{"total_count", "check_runs"}`, filtered by `check_name` and `status`, with `filter`
  `latest` (the default: "the most recent check runs") or `all`, paginated.
- "To create a check run, you must use a GitHub App. OAuth apps and authenticated users are not
  able to": a job's GITHUB_TOKEN is the GitHub Actions app's installation token, the only kind
  of token the emulator mints.
- The fine-grained permission: "Checks" repository permissions (write) to create and update,
  (read) to get and list. "Controlling permissions for GITHUB_TOKEN": "checks: write permits
  an action to create a check run". A token without it gets 403 "Resource not accessible by
  integration" (as for every endpoint; reported for check runs in e.g.
  joshmfrankel/simplecov-check-action#14, HackPlan/UUI#37).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.github_rest import GitHubRest, _json

CHECKS = ("checks",)
ACCEPTED = "checks={level}"
STATUSES = ("queued", "in_progress", "completed")
CONCLUSIONS = (
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out",
)  # fmt: skip
OUTPUT_LIMIT = 65535  # characters of an output's summary or text
FIELDS = ("name", "head_sha", "details_url", "external_id", "status", "conclusion", "output")
# The app a GITHUB_TOKEN's check runs belong to: GitHub Actions.
APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}


class CheckRunRoutes:
    """The check-run endpoints of one emulated GitHub; its state lives in `rest.state`."""

    def __init__(self, rest: GitHubRest) -> None:
        self.rest = rest

    def routes(self, base: str) -> list[Route]:
        return [
            Route(base + "/check-runs", self._create, methods=["POST"]),
            Route(base + "/check-runs/{id:int}", self._one, methods=["GET", "PATCH"]),
            Route(base + "/commits/{ref}/check-runs", self._for_ref),
        ]

    async def _create(self, request: Request) -> Response:
        rest = self.rest
        refused = rest._admit(request, CHECKS, ACCEPTED, True)
        if refused:
            return refused
        body = await _json(request)
        if not isinstance(body, dict):
            return _invalid(rest, "name", "missing_field")
        for required in ("name", "head_sha"):
            if not isinstance(body.get(required), str) or not body[required]:
                return _invalid(rest, required, "missing_field")
        problem = _problem({"status": "queued", **body})
        if problem:
            return _invalid(rest, *problem)
        identifier = rest._new_id()
        repository = f"{request.path_params['owner']}/{request.path_params['repo']}"
        now = rest._now()
        run: dict[str, Any] = {
            "id": identifier,
            "node_id": f"CR_{identifier}",
            "name": body["name"],
            "head_sha": body["head_sha"],
            "external_id": str(body.get("external_id") or ""),
            "url": f"{rest.url}/repos/{repository}/check-runs/{identifier}",
            "html_url": f"https://github.com/{repository}/runs/{identifier}",
            "details_url": body.get("details_url"),
            "status": "queued",
            "conclusion": None,
            "started_at": now,
            "completed_at": None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "check_suite": {"id": 1},
            "app": APP,
            "pull_requests": [],
        }
        _apply(run, body, now)
        rest.state.check_runs.append(run)
        return rest._ok(run, 201)

    async def _one(self, request: Request) -> Response:
        rest = self.rest
        write = request.method == "PATCH"
        refused = rest._admit(request, CHECKS, ACCEPTED, write)
        if refused:
            return refused
        run = next(
            (run for run in rest.state.check_runs if run["id"] == request.path_params["id"]),
            None,
        )
        if run is None:
            return rest._error(404, "Not Found")
        if not write:
            return rest._ok(run)
        body = await _json(request)
        if not isinstance(body, dict):
            return _invalid(rest, "body", "invalid")
        for name in ("name", "head_sha"):
            if name in body and (not isinstance(body[name], str) or not body[name]):
                return _invalid(rest, name, "invalid")
        merged = {"status": run["status"], "conclusion": run["conclusion"], **body}
        if "status" in body and body["status"] != "completed" and "conclusion" not in body:
            merged["conclusion"] = None
        problem = _problem(merged)
        if problem:
            return _invalid(rest, *problem)
        _apply(run, body, rest._now())
        return rest._ok(run)

    async def _for_ref(self, request: Request) -> Response:
        rest = self.rest
        refused = rest._admit(request, CHECKS, ACCEPTED, False)
        if refused:
            return refused
        query = request.query_params
        wanted = query.get("filter", "latest")
        if wanted not in ("latest", "all"):
            return _invalid(rest, "filter", "invalid")
        found = [
            run
            for run in reversed(rest.state.check_runs)  # newest first
            if run["head_sha"] == request.path_params["ref"]
            and query.get("check_name") in (None, run["name"])
            and query.get("status") in (None, run["status"])
        ]
        if wanted == "latest":
            newest: dict[str, dict[str, Any]] = {}
            for run in found:
                newest.setdefault(run["name"], run)
            found = list(newest.values())
        try:
            per_page = min(max(int(query.get("per_page", "30")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return _invalid(rest, "per_page", "invalid")
        chunk = found[(page - 1) * per_page : page * per_page]
        return rest._ok({"total_count": len(found), "check_runs": chunk})


def _problem(fields: dict[str, Any]) -> tuple[str, str] | None:
    """The field GitHub would refuse with 422 and its error code, or None."""
    unknown_type = next(
        (name for name in ("details_url", "external_id") if not _string(fields.get(name))), None
    )
    if unknown_type:
        return unknown_type, "invalid"
    conclusion = fields.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        return "conclusion", "invalid"
    status = "completed" if conclusion is not None else fields.get("status")
    if status not in STATUSES:
        return "status", "invalid"
    if status == "completed" and conclusion is None:
        return "conclusion", "missing_field"
    output = fields.get("output")
    if output is not None:
        if not isinstance(output, dict):
            return "output", "invalid"
        for name in ("title", "summary"):
            if not isinstance(output.get(name), str):
                return f"output.{name}", "missing_field"
        if not _string(output.get("text")):
            return "output.text", "invalid"
        for name in ("summary", "text"):
            if len(output.get(name) or "") > OUTPUT_LIMIT:
                return f"output.{name}", "too_long"
    return None


def _string(value: object) -> bool:
    return value is None or isinstance(value, str)


def _apply(run: dict[str, Any], body: dict[str, Any], now: str) -> None:
    for name in FIELDS:
        if name in body and name != "output":
            run[name] = body[name]
    if "output" in body:
        output = body["output"]
        run["output"] = {
            **run["output"],
            "title": output["title"],
            "summary": output["summary"],
            "text": output.get("text"),
        }
    if run.get("conclusion") is not None:
        run["status"] = "completed"
        run["completed_at"] = body.get("completed_at") or run["completed_at"] or now
    elif run["status"] != "completed":
        run["completed_at"] = None


def _invalid(rest: GitHubRest, name: str, code: str) -> Response:
    return rest._error(
        422,
        "Validation Failed",
        errors=[{"resource": "CheckRun", "field": name, "code": code}],
    )

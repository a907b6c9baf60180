"""Runs a workflow file's steps that use this action, for one event, through the harness: job
`if:` conditions, `permissions` (OIDC only with id-token: write, never for forks), the job's
GitHub environment (it sets the OIDC subject), the workflow's and the job's `env:` (the `env`
context, and the action's environment, as the runner passes them), `with:` expressions and
`environment.url`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from emulator.client import Emulator
from tools.runner.action import ActionHarness, StepResult
from tools.runner.expressions import evaluate, interpolate, truthy
from tools.runner.job import Event, new_run_id

OUR_ACTION = re.compile(r"^(\./|azureml-deploy/azureml-deploy@)")


@dataclass
class JobRun:
    job: str
    result: StepResult
    environment: str | None
    environment_url: str | None
    oidc_subject: str | None


def _permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    permissions = job.get("permissions", workflow.get("permissions", {}))
    return permissions if isinstance(permissions, dict) else {}


# GITHUB_TOKEN's scopes (docs.github.com "Automatic token authentication", "Permissions for
# the GITHUB_TOKEN"): a workflow without `permissions` gets the repository's default, for new
# repositories the restricted one; `read-all` / `write-all` set every scope; a pull request
# from a fork gets read at most ("...the GITHUB_TOKEN has read-only permissions in pull
# requests from public forked repositories").
SCOPES = (
    "actions", "attestations", "checks", "contents", "deployments", "discussions", "issues",
    "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses",
)  # fmt: skip
RESTRICTED_DEFAULT = {"contents": "read", "packages": "read", "metadata": "read"}


def token_permissions(workflow: dict[str, Any], job: dict[str, Any], fork: bool) -> dict[str, str]:
    declared = job.get("permissions", workflow.get("permissions"))
    if declared is None:
        levels = dict(RESTRICTED_DEFAULT)
    elif declared in ("read-all", "write-all"):
        levels = {scope: declared.removesuffix("-all") for scope in SCOPES}
    elif isinstance(declared, dict):
        levels = {
            str(scope): str(level) for scope, level in declared.items() if scope != "id-token"
        }
        levels["metadata"] = "read"
    else:
        levels = {}
    if fork:
        levels = {scope: "read" for scope, level in levels.items() if level != "none"}
    return levels


def _is_fork(event: Event, repository: str) -> bool:
    head = ((event.payload.get("pull_request") or {}).get("head") or {}).get("repo") or {}
    return bool(head) and head.get("full_name") != repository


def github_context(event: Event, harness: ActionHarness, run_id: str) -> dict[str, Any]:
    return {
        "event_name": event.name,
        "event": event.payload,
        "sha": event.sha,
        "ref": event.ref,
        "ref_name": event.ref_name,
        "ref_type": event.ref_type,
        "head_ref": event.head_ref,
        "base_ref": event.base_ref,
        "repository": harness.repository,
        "repository_owner": harness.repository.split("/")[0],
        "run_id": run_id,
    }


def run_workflow(
    path: Path,
    event: Event,
    *,
    harness: ActionHarness,
    emulator: Emulator,
    workspace: Path,
    temp: Path,
    variables: dict[str, str],
    step_env: dict[str, str],
) -> list[JobRun]:
    workflow = yaml.safe_load(path.read_text())
    run_id = new_run_id()  # one workflow run, its jobs share the id
    runs = []
    for name, job in workflow["jobs"].items():
        fork = _is_fork(event, harness.repository)
        token = emulator.github_token(token_permissions(workflow, job, fork))
        context: dict[str, Any] = {
            "github": {**github_context(event, harness, run_id), "token": token},
            "vars": variables,
            "secrets": {},
            "env": {},
            "steps": {},
        }
        if "if" in job and not truthy(evaluate(str(job["if"]), context)):
            continue
        # The job's env over the workflow's (no `env` context in a job's `if:`, as on GitHub).
        for scope in (workflow, job):
            for key, value in (scope.get("env") or {}).items():
                context["env"][str(key)] = interpolate(str(value), context)
        environment = job.get("environment")
        environment_name = environment.get("name") if isinstance(environment, dict) else environment
        oidc = None
        subject = None
        wants_token = _permissions(workflow, job).get("id-token") == "write"
        if wants_token and not fork:
            claims = {
                "event_name": event.name,
                "ref": event.ref,
                "ref_type": event.ref_type,
                "sha": event.sha,
                "repository": harness.repository,
                "environment": environment_name,
                "head_ref": event.head_ref or None,
                "base_ref": event.base_ref or None,
            }
            subject = emulator.github_job(claims)["claims"]["sub"]
            oidc = (emulator["oidc"]["request_url"], emulator["oidc"]["request_token"])
        for step in job["steps"]:
            uses = str(step.get("uses", ""))
            if not OUR_ACTION.match(uses):
                continue  # checkout and the like: the harness's workspace is checked out
            given = {
                key: interpolate(str(value), context)
                for key, value in (step.get("with") or {}).items()
            }
            given["cloud"] = "local"  # deliberate: the emulator instead of Azure
            issued_from = emulator.last_secret()
            result = harness.run(
                workspace=workspace,
                temp=temp / f"{name}-{step.get('id', 'step')}",
                with_=given,
                event=event,
                oidc=oidc,
                run_id=run_id,
                env={**context["env"], **step_env},
                mounts=[f"{emulator.state_dir}:{emulator.state_dir}:ro"],
                issued_secrets=functools.partial(emulator.secrets_since, issued_from),
                github_token=token,
                api_url=emulator["github_api_url"],
            )
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": result.outputs}
            url = None
            if isinstance(environment, dict) and environment.get("url"):
                url = interpolate(str(environment["url"]), context)
            runs.append(JobRun(name, result, environment_name, url, subject))
            if result.exit_code != 0:
                break
    return runs

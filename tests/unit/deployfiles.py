"""Deploy files for the tests: a valid one, and a helper to validate text in a workspace."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from deployer.diagnostics import Problem, Severity
from deployer.spec import ValidationReport, validate_deploy_file

VALID = """\
version: 1
endpoint:
  name: credit-risk
  auth_mode: key
image:
  registry: contosoml.azurecr.io
  repository: credit-risk
  build:
    context: .
    dockerfile: Dockerfile
deployment:
  instance_type: Standard_DS3_v2
  instance_count: 1
  inference_config:
    liveness_route: {port: 5001, path: /health}
    readiness_route: {port: 5001, path: /ready}
    scoring_route: {port: 5001, path: /score}
rollout:
  strategy: blue-green
smoke_test:
  request: sample-request.json
environments:
  preview:
    endpoint: {name: "credit-risk-pr{pr}"}
    rollout: {strategy: replace}
    ttl_hours: 72
  production:
    deployment: {instance_count: 3}
"""

SUPPORT_FILES = {
    "Dockerfile": "FROM python:3.12-slim\n",
    "sample-request.json": '{"data": [1, 2]}\n',
}


@dataclass
class Workspace:
    root: Path

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def deploy_file(self, text: str, name: str = "deploy.yml") -> Path:
        for support, content in SUPPORT_FILES.items():
            if not (self.root / support).exists():
                self.write(support, content)
        return self.write(name, textwrap.dedent(text))

    def validate(
        self, text: str, environment: str | None = None, name: str = "deploy.yml"
    ) -> ValidationReport:
        path = self.deploy_file(text, name)
        return validate_deploy_file(path, environment=environment, workspace=self.root)

    def errors(self, text: str, environment: str | None = None) -> list[tuple[int, int, str]]:
        return [
            (p.line, p.column, p.message)
            for p in self.validate(text, environment).problems
            if p.severity is Severity.ERROR
        ]


def only(problems: tuple[Problem, ...] | list[Problem]) -> Problem:
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert len(errors) == 1, "\n".join(p.human("deploy.yml") for p in problems)
    return errors[0]


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)

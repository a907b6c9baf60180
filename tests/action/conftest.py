from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.client import Emulator
from tools.images import base_image
from tools.repo import BUILD_NETWORK
from tools.runner.action import ROOT, ActionHarness
from tools.runner.job import Event
from tools.runner.workflow import JobRun, run_workflow


@pytest.fixture(scope="session")
def harness() -> ActionHarness:
    """The action's image, built the way the runner builds it (once per session)."""
    harness = ActionHarness(base_image())
    harness.build()
    return harness


@dataclass
class Repo:
    """A checkout of a repository using the action: the example model server and workflows."""

    root: Path
    temp: Path
    harness: ActionHarness
    emulator: Emulator

    def variables(self) -> dict[str, str]:
        connection = self.emulator.connection
        return {
            "AZURE_CLIENT_ID": connection["client_id"],
            "AZURE_TENANT_ID": connection["tenant_id"],
            "AZURE_SUBSCRIPTION_ID": connection["subscription_id"],
            "AZURE_RESOURCE_GROUP": connection["resource_group"],
            "AZUREML_WORKSPACE": connection["workspace"],
        }

    def step_env(self) -> dict[str, str]:
        return {
            "AZUREML_EMULATOR_DIR": str(self.emulator.state_dir),
            # Public base images cannot be pulled here: the model server's build uses the
            # local one.
            "AZUREML_DEPLOY_BUILD_ARGS": f"BASE_IMAGE={base_image()}",
            "AZUREML_DEPLOY_BUILD_NETWORK": BUILD_NETWORK,
        }

    def run(self, workflow: str, event: Event, folder: Path | None = None) -> list[JobRun]:
        """Run `workflow` of the examples (or of `folder`)."""
        runs = run_workflow(
            (folder or ROOT / "examples" / "workflows") / workflow,
            event,
            harness=self.harness,
            emulator=self.emulator,
            workspace=self.root,
            temp=self.temp / secrets.token_hex(4),
            variables=self.variables(),
            step_env=self.step_env(),
        )
        for run in runs:  # no secret may reach the log unmasked, no command but the action's
            assert run.result.leaks == [], run.result.leaks
            assert run.result.foreign == [], run.result.foreign
        return runs


@pytest.fixture
def repo(emulator: Emulator, harness: ActionHarness, tmp_path: Path) -> Iterator[Repo]:
    root = tmp_path / "workspace"
    shutil.copytree(ROOT / "examples", root / "examples")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    yield Repo(root, tmp_path / "runner", harness, emulator)

"""The action (deployer/action.py): the runner's INPUT_* variables → the command line."""

from __future__ import annotations

from types import ModuleType

import pytest

from deployer import action


def entrypoint() -> ModuleType:
    return action


def test_defaults_deploy_deploy_yml() -> None:
    assert entrypoint().arguments({}) == ["deploy", "--config", "deploy.yml"]


def test_hyphenated_inputs_as_the_runner_names_them() -> None:
    environ = {
        "INPUT_COMMAND": "deploy",
        "INPUT_CONFIG": "app/deploy.yml",
        "INPUT_ENVIRONMENT": "preview",
        "INPUT_SUBSCRIPTION-ID": "sub",
        "INPUT_RESOURCE-GROUP": "rg",
        "INPUT_WORKSPACE": "ws",
        "INPUT_CLIENT-ID": "client",
        "INPUT_TENANT-ID": "tenant",
        "INPUT_AUDIENCE": "api://AzureADTokenExchange",
        "INPUT_CLOUD": "AzureCloud",
        "INPUT_IMAGE-TAG": "v1",
        "INPUT_IMAGE": "credit-risk@sha256:abc",
        "INPUT_BUILD-ARGS": "A=1\n\nB=two words\n",
        "INPUT_SUMMARY": "false",
    }
    assert entrypoint().arguments(environ) == [
        "deploy",
        "--config",
        "app/deploy.yml",
        "--environment",
        "preview",
        "--subscription-id",
        "sub",
        "--resource-group",
        "rg",
        "--workspace",
        "ws",
        "--client-id",
        "client",
        "--tenant-id",
        "tenant",
        "--audience",
        "api://AzureADTokenExchange",
        "--cloud",
        "AzureCloud",
        "--no-summary",
        "--image-tag",
        "v1",
        "--image",
        "credit-risk@sha256:abc",
        "--build-arg",
        "A=1",
        "--build-arg",
        "B=two words",
    ]


def test_underscore_forms_are_read_too() -> None:
    args = entrypoint().arguments({"INPUT_COMMAND": "plan", "INPUT_SUBSCRIPTION_ID": "sub"})
    assert args[:3] == ["plan", "--config", "deploy.yml"]
    assert args[3:5] == ["--subscription-id", "sub"]


def test_validate_takes_no_azure_inputs() -> None:
    args = entrypoint().arguments(
        {"INPUT_COMMAND": "validate", "INPUT_CLIENT-ID": "x", "INPUT_ENVIRONMENT": "preview"}
    )
    assert args == ["validate", "--config", "deploy.yml", "--environment", "preview"]


@pytest.mark.parametrize("command", ["destroy", "deploy; rm -rf /", "--help"])
def test_unknown_commands_reach_the_cli_which_refuses_them(command: str) -> None:
    args = entrypoint().arguments({"INPUT_COMMAND": command})
    assert args[0] == command  # argparse answers with usage and exit code 2


@pytest.mark.parametrize("command", ["rollback", "promote", "abort"])
def test_the_after_the_job_commands_take_the_azure_inputs_and_wait(command: str) -> None:
    args = entrypoint().arguments(
        {"INPUT_COMMAND": command, "INPUT_WORKSPACE": "ws", "INPUT_WAIT": "false"}
    )
    assert args[:3] == [command, "--config", "deploy.yml"]
    assert "--workspace" in args and "--no-wait" in args
    assert "--no-wait" not in entrypoint().arguments({"INPUT_COMMAND": command})
    assert "--no-wait" not in entrypoint().arguments(
        {"INPUT_COMMAND": "plan", "INPUT_WAIT": "false"}
    )

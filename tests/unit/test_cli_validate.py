"""`azureml-deploy validate` as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deployer import cli
from tests.unit.deployfiles import VALID, Workspace, replace_line

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "credit-risk" / "deploy.yml"
SCRIPT = shutil.which("azureml-deploy", path=str(Path(sys.executable).parent))

MISTAKES = [
    ("version: 1", "version: 2"),
    ("  auth_mode: key", "  auth_mode: keys"),
    ("  instance_type: Standard_DS3_v2", "  instnace_type: Standard_DS3_v2"),
    ("  instance_count: 1", "  instance_count: 0"),
    (
        "    liveness_route: {port: 5001, path: /health}",
        "    liveness_route: {port: 5001, path: health}",
    ),
    ("  request: sample-request.json", "  request: missing.json"),
]
EXPECTED_PLACES = [(1, 10), (4, 14), (11, 1), (12, 3), (13, 19), (15, 40), (21, 12)]


def run(
    *args: str, cwd: Path, github: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None, "the console script is installed by `make setup`"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    if github:
        environ["GITHUB_ACTIONS"] = "true"
    environ.update(env or {})
    return subprocess.run(
        [SCRIPT, *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def broken_file(workspace: Workspace, name: str = "deploy.yml") -> Path:
    text = VALID
    for old, new in MISTAKES:
        text = replace_line(text, old, new)
    return workspace.deploy_file(text, name)


def test_valid_example_exits_0_with_a_summary() -> None:
    result = run("validate", "--config", str(EXAMPLE.relative_to(ROOT)), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "examples/credit-risk/deploy.yml is valid (base, preview, production)" in result.stdout
    assert "credit-risk-pr{pr} (e.g. credit-risk-pr123)" in result.stdout
    assert "3 x Standard_DS3_v2" in result.stdout
    assert "canary 10/50/100" in result.stdout
    assert "agreement (12 requests), smoke test, ttl 72 h, scorecard vs production" in result.stdout


def test_every_mistake_is_reported_at_its_line_and_column(workspace: Workspace) -> None:
    broken_file(workspace)
    result = run("validate", "--config", "deploy.yml", cwd=workspace.root)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    places = [
        (int(m[1]), int(m[2]))
        for m in (re.match(r"deploy\.yml:(\d+):(\d+): error: ", line) for line in lines)
        if m
    ]
    assert places == EXPECTED_PLACES, result.stderr
    assert "deploy.yml:13:19: error: deployment.instance_count must be >= 1 (got 0)" in lines
    assert lines[-1] == "deploy.yml: 7 errors; nothing was deployed"
    assert result.stdout == ""  # no annotations outside GitHub Actions
    assert "Traceback" not in result.stderr


def test_in_github_actions_each_problem_is_also_an_annotation(workspace: Workspace) -> None:
    broken_file(workspace)
    result = run("validate", "--config", "deploy.yml", cwd=workspace.root, github=True)
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    places = [
        (int(m[1]), int(m[2]))
        for m in (
            re.match(r"::error file=deploy\.yml,line=(\d+),col=(\d+),title=deploy\.yml::", a)
            for a in annotations
        )
        if m
    ]
    assert places == EXPECTED_PLACES, result.stdout
    assert (
        "::error file=deploy.yml,line=13,col=19,title=deploy.yml::"
        "deployment.instance_count must be >= 1 (got 0)"
    ) in annotations
    # The human form too, on the same stream: the runner handles stderr before stdout.
    assert (
        "deploy.yml:13:19: error: deployment.instance_count must be >= 1 (got 0)" in result.stdout
    )
    assert result.stderr == ""


def test_annotations_use_the_path_as_given_and_escape_it(workspace: Workspace) -> None:
    broken_file(workspace, name="deploy, v2:prod.yml")
    result = run("validate", "--config", "./deploy, v2:prod.yml", cwd=workspace.root, github=True)
    assert result.returncode == 1
    first = next(line for line in result.stdout.splitlines() if line.startswith("::"))
    assert first.startswith(
        "::error file=./deploy%2C v2%3Aprod.yml,line=1,col=10,title=./deploy%2C v2%3Aprod.yml::"
    )
    assert "./deploy, v2:prod.yml:1:10: error: version must be 1 (got 2)" in result.stdout


def test_annotation_data_is_escaped_and_cannot_inject_commands(workspace: Workspace) -> None:
    text = replace_line(VALID, "  auth_mode: key", '  auth_mode: "100%"\n  "x\\n::add-mask::y": 1')
    workspace.deploy_file(text)
    result = run("validate", "--config", "deploy.yml", cwd=workspace.root, github=True)
    assert result.returncode == 1
    refusal = 'endpoint.auth_mode must be one of key, aml_token, aad_token (got "100%25")'
    assert refusal in result.stdout
    for stream in (result.stdout, result.stderr):
        for line in stream.splitlines():
            assert not line.lstrip().startswith("::add-mask"), line


def test_warnings_do_not_fail_and_are_annotated(workspace: Workspace) -> None:
    workspace.deploy_file(replace_line(VALID, "Standard_DS3_v2", "Standard_DS3v2"))
    result = run("validate", "--config", "deploy.yml", cwd=workspace.root, github=True)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("deploy.yml:12:18: warning: deployment.instance_type")
    assert lines[1].startswith("::warning file=deploy.yml,line=12,col=18,title=deploy.yml::")
    assert "with 1 warning" in result.stdout


def test_one_environment(workspace: Workspace) -> None:
    workspace.deploy_file(
        replace_line(VALID, "deployment: {instance_count: 3}", "deployment: {instance_count: 0}")
    )
    assert run("validate", "--config", "deploy.yml", cwd=workspace.root).returncode == 1
    result = run(
        "validate", "--config", "deploy.yml", "--environment", "preview", cwd=workspace.root
    )
    assert result.returncode == 0, result.stderr
    assert "is valid (base, preview)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("validate", "--config", "nope.yml"), "deploy file nope.yml not found"),
        (
            ("validate", "--config", "deploy.yml", "--environment", "staging"),
            "environment 'staging' is not defined",
        ),
        (("validate", "--bogus"), "unrecognized arguments: --bogus"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        ((), "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(workspace: Workspace, args: tuple[str, ...], message: str) -> None:
    workspace.deploy_file(VALID)
    result = run(*args, cwd=workspace.root)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_yaml_syntax_error_exits_1_with_its_line(workspace: Workspace) -> None:
    workspace.write("deploy.yml", "version: 1\nendpoint: [unclosed\nimage: {}\n")
    result = run("validate", "--config", "deploy.yml", cwd=workspace.root, github=True)
    assert result.returncode == 1
    assert re.search(r"^deploy\.yml:3:\d+: error: invalid YAML: ", result.stdout, re.M)
    assert result.stdout.splitlines()[1].startswith("::error file=deploy.yml,line=3,")


def test_default_config_is_deploy_yml_in_the_working_directory(workspace: Workspace) -> None:
    workspace.deploy_file(VALID)
    result = run("validate", cwd=workspace.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("deploy.yml is valid")


def test_unexpected_errors_are_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], workspace: Workspace
) -> None:
    # Simulates a bug inside a command: the user must get a message and exit code 1.
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("deployer.commands.validate.validate_deploy_file", explode)
    monkeypatch.delenv("RUNNER_DEBUG", raising=False)
    workspace.deploy_file(VALID)
    code = cli.main(["validate", "--config", str(workspace.root / "deploy.yml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "internal error: RuntimeError: boom" in captured.err
    assert "Traceback" not in captured.err
    assert cli.main(["--debug", "validate", "--config", str(workspace.root / "deploy.yml")]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_debug_shows_what_caused_an_error(tmp_path: Path) -> None:
    """An error keeps its cause (`raise … from exc`): --debug prints the chain and where it
    was raised; without it, the message and the fix alone."""
    plain = run("validate", "--config", "missing.yml", cwd=tmp_path)
    assert plain.returncode == 2
    assert "deploy file missing.yml not found" in plain.stderr + plain.stdout
    assert "caused by" not in plain.stderr + plain.stdout
    debug = run("--debug", "validate", "--config", "missing.yml", cwd=tmp_path)
    assert debug.returncode == 2
    shown = debug.stderr + debug.stdout
    assert "caused by FileNotFoundError: [Errno 2] No such file or directory" in shown
    assert "The above exception was the direct cause" in shown

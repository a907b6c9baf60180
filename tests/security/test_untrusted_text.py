"""Text the action did not write (a Dockerfile, a build step's output, a model server's log and
answers, Azure's error messages, a deploy file's keys) reaches the log as text the runner
cannot take for a workflow command, and the job summary as text Markdown cannot render.

Before: `LABEL note="##[stop-commands]tok"` stopped command processing ahead of the keys'
`::add-mask::` lines, and the keys were printed unmasked. Each end-to-end test here is checked
afterwards with the runner's rules (tools/checks.py): no command but the action's own,
no secret shown before its mask."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from deployer import markdown as md
from deployer.report import failure_markdown
from tools.attacks import hostile_preview
from tools.repo import App
from tools.runner.log import foreign_commands, replay_streams


def injected(log: str) -> None:
    """The attacks are in the log, as text: proof that they were printed, and defused. (The
    fixture checks every run with the runner's rules as well.)"""
    assert "## [stop-commands]" in log and "INJECTED" in log
    runner = replay_streams(log, "")
    assert not runner.stopped
    assert not [c for c in runner.commands if "INJECTED" in c.data and c.name != "error"]
    assert foreign_commands(runner) == []


def test_a_hostile_model_server_cannot_command_the_runner_or_the_summary(
    app: App, tmp_path: Path
) -> None:
    run = hostile_preview(app, tmp_path)
    assert run.result.returncode == 1, run.result.stdout
    log = run.result.stdout
    assert "the smoke test of deployment blue failed: expected HTTP 200" in log
    injected(log)
    assert "## [stop-commands]tok-build" in log  # the RUN step's line and its output
    assert "tok-label" not in log  # BuildKit shows no LABEL step
    assert "## [stop-commands]tok-server" in log  # the server's answer and its log
    # The key the server echoed back, raw and base64, is masked in the log and the summary.
    keys = [mask.data for mask in replay_streams(log, run.result.stderr).named("add-mask")]
    summary = run.summary.read_text()
    shown = "\n".join(line for line in log.splitlines() if not line.startswith("::add-mask::"))
    for key in keys:
        for text in (shown, summary):
            assert key not in text
            assert base64.b64encode(key.encode()).decode()[:-4] not in text
    # The answer is in the summary, verbatim in a code block nothing inside it can close.
    assert "<img src=x onerror=alert(1)>" in summary
    body = summary.split("````text\n", 1)[1].split("\n````", 1)[0]
    assert "<img" in body and "```" in body
    assert "<img" not in summary.replace(body, "")


def test_a_failing_build_step_cannot_command_the_runner(app: App, tmp_path: Path) -> None:
    run = hostile_preview(app, tmp_path, **{'FAIL_BUILD: "0"': 'FAIL_BUILD: "1"'})
    assert run.result.returncode == 1, run.result.stdout
    assert "the build step [2/3] RUN echo" in run.result.stdout
    injected(run.result.stdout)
    assert "## [error]INJECTED-BUILD" in run.result.stdout
    assert "  : :warning title=azureml-deploy::INJECTED-BUILD" in run.result.stdout


def test_a_crashing_model_servers_log_cannot_command_the_runner(app: App, tmp_path: Path) -> None:
    run = hostile_preview(
        app, tmp_path, **{'HOSTILE_STATUS: "500"': 'HOSTILE_STATUS: "500", CRASH: "1"'}
    )
    assert run.result.returncode == 1, run.result.stdout
    assert "Log of deployment blue" in run.result.stdout
    assert "## [stop-commands]tok-server" in run.result.stdout


def test_azure_error_messages_are_text(app: App, tmp_path: Path) -> None:
    message = "##[stop-commands]tok-azure ::add-mask::INJECTED-AZURE | <b>x</b> ```"
    app.emulator.fault(kind="lro_fail", path="/deployments/", code="BadArgument", message=message)
    run = app.in_a_job("deploy", tmp_path, "--environment", "preview", pull_request=9)
    assert run.result.returncode == 1, run.result.stdout
    assert "## [stop-commands]tok-azure" in run.result.stdout
    summary = run.summary.read_text()
    assert "tok-azure" in summary and "<b>x</b>" in summary
    assert "<b>" not in summary.split("````text\n", 1)[0]


# --- the job summary ---------------------------------------------------------------------------


def test_a_code_block_cannot_be_closed_from_inside() -> None:
    text = "before\n```\n<script>x</script>\n`````\nafter"
    block = md.block(text)
    fence = block.split("text\n", 1)[0]
    assert fence == "``````" and block.endswith("\n" + fence)
    assert text in block


def test_table_cells_render_text_not_markup() -> None:
    cell = md.text("a | b [click](javascript:x) ![i](http://x/p.png) <img> **bold**\nnext")
    assert "|" not in cell.replace("&#124;", "")
    for markup in ("[click](", "![i](", "<img>", "**bold**"):
        assert markup not in cell
    assert "\n" not in cell
    assert md.code("x|y<z>") == "<code>x&#124;y&#60;z&#62;</code>"
    # GFM parses Markdown between inline HTML tags: inside <code> too, nothing may form
    inline = md.code("[click](javascript:x) ![i](http://x/p.png) **bold** `tick` &amp;")
    for markup in ("[click](", "![i](", "**bold**", "`tick`", "&amp;"):
        assert markup not in inline


def test_untrusted_text_in_the_summary_is_bounded() -> None:
    summary = failure_markdown("ep", "x" * 50_000, "y" * 50_000)
    assert len(summary) < 3 * md.MAX_BLOCK


# --- a fork's deploy file, through validate -----------------------------------------------------


def test_validate_on_a_hostile_deploy_file_prints_text_only(tmp_path: Path) -> None:
    (tmp_path / "deploy.yml").write_text(
        'version: 1\n"##[stop-commands]tok": 1\n"  ::add-mask::x": 2\n'
        'endpoint: {name: "::warning::x"}\n'
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "azureml-deploy"), "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GITHUB_ACTIONS": "true"},
        check=False,
    )
    assert result.returncode == 1
    runner = replay_streams(result.stdout, result.stderr)
    assert foreign_commands(runner) == []
    assert not runner.stopped
    assert runner.named("error"), "the problems are still annotations"
    assert "## [stop-commands]tok" in result.stdout

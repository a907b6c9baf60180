"""rollout.agreement in the deploy file: read into the spec, and bad input refused at its line
before anything changes."""

from __future__ import annotations

import os

import pytest

from deployer.desired import agreement_of
from deployer.errors import UsageError
from deployer.files import MAX_AGREEMENT_REQUESTS
from deployer.spec.model import CompareKind
from tests.unit.deployfiles import VALID, Workspace, only


def agreement(body: str, strategy: str = "canary") -> str:
    start = VALID.index("rollout:\n")
    end = VALID.index("smoke_test:\n")
    return VALID[:start] + f"rollout:\n  strategy: {strategy}\n  agreement:\n" + body + VALID[end:]


def requests(workspace: Workspace, count: int, folder: str = "agreement") -> None:
    for number in range(count):
        workspace.write(f"{folder}/{number:04}.json", f'{{"x": {number}}}')


def test_a_folder_of_requests_and_a_label_rule_are_read_in_name_order(
    workspace: Workspace,
) -> None:
    requests(workspace, 3)
    workspace.write("agreement/notes.txt", "not a request")
    workspace.write("agreement/deeper/9999.json", "{}")
    text = agreement("    requests: agreement/\n    compare: {pointer: /label}\n")
    report = workspace.validate(text, environment="production")
    assert report.valid, report.problems
    assert report.deploy_file is not None
    spec = report.deploy_file.base.rollout.agreement
    assert spec is not None
    assert [path.name for path in spec.requests] == ["0000.json", "0001.json", "0002.json"]
    assert spec.compare.kind is CompareKind.POINTER and spec.compare.pointer == "/label"
    assert spec.min_agreement == 1.0 and spec.timeout_seconds == 30


def test_listed_files_a_tolerance_and_a_schema(workspace: Workspace) -> None:
    workspace.write("a.json", "[1]")
    workspace.write("b.json", '{"y": 2}')
    workspace.write("answer.schema.json", '{"type": "object"}')
    for compare in (
        "{tolerance: {absolute: 0.001, relative: 0.01}}",
        "{schema: answer.schema.json}",
    ):
        text = agreement(
            f"    requests: [b.json, a.json]\n    compare: {compare}\n    min_agreement: 0.98\n"
        )
        report = workspace.validate(text, environment="production")
        assert report.valid, report.problems
        assert report.deploy_file is not None
        spec = report.deploy_file.base.rollout.agreement
        assert spec is not None and [p.name for p in spec.requests] == ["b.json", "a.json"]
        assert spec.min_agreement == 0.98
        if spec.compare.kind is CompareKind.TOLERANCE:
            assert (spec.compare.absolute, spec.compare.relative) == (0.001, 0.01)
        else:
            assert spec.compare.schema == workspace.root / "answer.schema.json"


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        (
            "    requests: agreement/\n    compare: {pointer: label}\n",
            22,
            24,
            "rollout.agreement.compare.pointer must be a JSON pointer (RFC 6901)",
        ),
        (
            "    requests: agreement/\n    compare: {exact: true, pointer: /label}\n",
            22,
            5,
            "rollout.agreement.compare must give exactly one rule",
        ),
        (
            "    requests: agreement/\n    compare: {tolerance: {}}\n",
            22,
            15,
            "rollout.agreement.compare.tolerance needs `absolute`, `relative` or both",
        ),
        (
            "    requests: agreement/\n    min_agreement: 98\n",
            22,
            20,
            "rollout.agreement.min_agreement must be <= 1 (got 98)",
        ),
        (
            "    requests: missing/\n",
            21,
            15,
            "rollout.agreement.requests names missing/, but missing is not a folder",
        ),
        (
            "    requests: ../outside/\n",
            21,
            15,
            "rollout.agreement.requests points outside the workspace (../outside/)",
        ),
        (
            "    requests: [agreement/0000.json, /etc/passwd]\n",
            21,
            37,
            "rollout.agreement.requests[1] must be a path relative to the deploy file",
        ),
        (
            "    requests: agreement/\n    compare: {schema: agreement/0000.json}\n",
            22,
            23,
            "rollout.agreement.compare.schema names agreement/0000.json, which is not a valid "
            "JSON Schema",
        ),
    ],
)
def test_bad_input_is_refused_at_its_line(
    workspace: Workspace, body: str, line: int, column: int, message: str
) -> None:
    requests(workspace, 2)
    (workspace.root / "agreement" / "0000.json").write_text('{"type": 12}')
    problem = only(workspace.validate(agreement(body), environment="production").problems)
    assert (problem.line, problem.column) == (line, column), problem.message
    assert problem.message.startswith(message), problem.message


def test_the_request_files_are_json_bounded_and_inside_the_workspace(
    workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    requests(workspace, 1)
    workspace.write("agreement/0001.json", "{not json")
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.json"
    outside.write_text("{}")
    os.symlink(outside, workspace.root / "agreement" / "0002.json")
    errors = workspace.errors(agreement("    requests: agreement/\n"), environment="production")
    assert errors == [
        (
            21,
            15,
            "rollout.agreement.requests includes agreement/0001.json, which is not a JSON "
            "request body",
        ),
        (
            21,
            15,
            "rollout.agreement.requests includes secret.json, which points outside the workspace",
        ),
    ]


def test_a_folder_past_the_bound_or_empty_is_refused(workspace: Workspace) -> None:
    requests(workspace, MAX_AGREEMENT_REQUESTS + 1)
    workspace.write("empty/readme.md", "")
    (problem,) = workspace.errors(agreement("    requests: agreement/\n"), environment="production")
    assert problem[2].endswith(
        f"has more than {MAX_AGREEMENT_REQUESTS} *.json files, the most azureml-deploy sends; "
        "keep a representative sample there"
    )
    (empty,) = workspace.errors(agreement("    requests: empty/\n"), environment="production")
    assert empty[2] == "rollout.agreement.requests names empty/, but empty/ has no *.json file"


def test_a_preview_may_keep_the_agreement_of_the_base(workspace: Workspace) -> None:
    """A preview's strategy replace has no second deployment to compare with: the rollout is not
    judged (tests/unit/test_agreement.py), and the base's agreement is no error there."""
    requests(workspace, 1)
    report = workspace.validate(
        agreement("    requests: agreement/\n", strategy="replace"), environment="preview"
    )
    assert report.valid, report.problems
    assert report.deploy_file is not None
    assert report.deploy_file.base.rollout.agreement is not None


def test_a_request_changed_after_validation_stops_the_run_before_it_changes_anything(
    workspace: Workspace,
) -> None:
    requests(workspace, 2)
    report = workspace.validate(agreement("    requests: agreement/\n"), environment="production")
    assert report.deploy_file is not None
    spec = report.deploy_file.base.rollout.agreement
    read = agreement_of(spec)
    assert read is not None and [r.body for r in read.requests] == [b'{"x": 0}', b'{"x": 1}']
    target = workspace.root / "agreement" / "0001.json"
    target.unlink()
    target.symlink_to(workspace.root / "agreement" / "0000.json")
    with pytest.raises(UsageError, match="is no longer the file that was checked"):
        agreement_of(spec)


@pytest.mark.parametrize(
    ("baseline", "said"),
    [
        ("staging", "names no environment of this file (defined: preview, production)"),
        ("preview", "is the preview environment 'preview'"),
    ],
)
def test_a_previews_baseline_is_an_environment_that_is_not_a_preview(
    workspace: Workspace, baseline: str, said: str
) -> None:
    requests(workspace, 2)
    text = agreement(f"    requests: agreement/\n    baseline: {baseline}\n", strategy="replace")
    problem = only(workspace.validate(text, environment="preview").problems)
    assert "rollout.agreement.baseline" in problem.message and said in problem.message
    assert text.splitlines()[problem.line - 1].strip() == f"baseline: {baseline}"
    # production names itself through the base: its own deploys record, they are not scored
    named = text.replace(f"baseline: {baseline}", "baseline: production")
    assert workspace.validate(named, environment="production").valid
    assert workspace.validate(named, environment="preview").valid

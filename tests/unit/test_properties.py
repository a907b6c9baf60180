"""Property-based tests: no input ends in an unhandled exception, names are always valid."""

from __future__ import annotations

import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deployer.diagnostics import Severity
from deployer.spec import ValidationReport, validate_deploy_file
from deployer.spec.names import (
    PLACEHOLDERS,
    is_valid_endpoint_name,
    render,
    template_problems,
)
from tests.unit.deployfiles import SUPPORT_FILES, VALID


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        for support, content in SUPPORT_FILES.items():
            (root / support).write_text(content)
        yield root


def check(folder: Path, raw: bytes) -> ValidationReport:
    """Validate `raw`; whatever it is, the answer is a spec or problems placed in the file."""
    path = folder / "deploy.yml"
    path.write_bytes(raw)
    report = validate_deploy_file(path, workspace=folder)
    line_count = raw.count(b"\n") + 1
    for problem in report.problems:
        assert 1 <= problem.line <= line_count, problem
        assert problem.column >= 1, problem
        assert problem.message
    errors = [p for p in report.problems if p.severity is Severity.ERROR]
    assert (report.deploy_file is None) == bool(errors)
    return report


# --- arbitrary and YAML-ish text -------------------------------------------------------------

VOCABULARY = [
    "version",
    "endpoint",
    "name",
    "image",
    "build",
    "ref",
    "registry",
    "repository",
    "deployment",
    "instance_type",
    "instance_count",
    "inference_config",
    "scoring_route",
    "port",
    "path",
    "rollout",
    "strategy",
    "canary_steps",
    "environments",
    "preview",
    "ttl_hours",
    "smoke_test",
    "request",
    "<<",
    "on",
    "1",
    "~",
    "x y",
]
SCALARS = [
    "1",
    "0",
    "-1",
    "3.10",
    "yes",
    "null",
    "~",
    "''",
    '"q"',
    "2024-01-01",
    "/score",
    "canary",
    "credit-{pr}",
    "{pr}",
    "[1, 2]",
    "{a: 1}",
    "&a",
    "*a",
    "&a x",
    "*b",
    "!!binary aGk=",
    "!Ref x",
    "|",
    ">",
    "'unterminated",
    "[",
    "{",
    "%",
    "@",
    "`",
    "\t",
    "---",
    "...",
]


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 25))):
        indent = " " * draw(st.sampled_from([0, 0, 2, 2, 4, 6, 1, 3]))
        key = draw(st.sampled_from(VOCABULARY) | st.text(max_size=6))
        form = draw(st.integers(0, 3))
        if form == 0:
            lines.append(f"{indent}{key}:")
        elif form == 1:
            lines.append(f"{indent}{key}: {draw(st.sampled_from(SCALARS) | st.text(max_size=8))}")
        elif form == 2:
            lines.append(f"{indent}- {draw(st.sampled_from(SCALARS))}")
        else:
            lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(folder: Path, raw: bytes) -> None:
    check(folder, raw)


@settings(deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text(folder: Path, text: str) -> None:
    check(folder, text.encode("utf-8"))


@settings(deadline=None)
@given(yamlish())
def test_yamlish_text(folder: Path, text: str) -> None:
    check(folder, text.encode("utf-8"))


# --- mutations of the valid example ------------------------------------------------------------

BASE: dict[str, Any] = yaml.safe_load(VALID)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["/x", "canary", "{pr}", "credit-{branch}", "Standard_DS3_v2", "."]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(VOCABULARY), children, max_size=4)
    ),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def mutated_example(draw: st.DrawFn) -> Any:
    import copy

    data: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        targets = paths(data)
        path = draw(st.sampled_from(targets))
        action = draw(st.sampled_from(["replace", "delete", "insert", "rename"]))
        if not path:
            if action == "replace":
                data = draw(json_values)
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "delete":
            del parent[last]
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.sampled_from(VOCABULARY) | st.text(max_size=8))] = draw(json_values)
        elif action == "rename" and isinstance(parent, dict):
            value = parent.pop(last)
            parent[draw(st.text(min_size=1, max_size=10))] = value
    return data


@settings(deadline=None)
@given(mutated_example())
def test_mutations_of_the_example(folder: Path, data: Any) -> None:
    check(folder, yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8"))


@settings(deadline=None)
@given(st.data())
def test_text_edits_of_the_example(folder: Path, data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 30)))
        text = text[:start] + data.draw(st.text(max_size=10)) + text[end:]
    check(folder, text.encode("utf-8"))


def test_unchanged_example_is_valid(folder: Path) -> None:
    assert check(folder, VALID.encode()).deploy_file is not None


# --- names -----------------------------------------------------------------------------------

literal = st.text(alphabet=string.ascii_letters + string.digits + "-", max_size=12)
templates = st.builds(
    lambda first, pieces: first + "".join(pieces),
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=1),
    st.lists(literal | st.sampled_from(["{" + name + "}" for name in PLACEHOLDERS]), max_size=5),
)
any_text = st.text(min_size=1, max_size=80)
run_values = st.fixed_dictionaries(
    {
        "pr": st.integers(1, 999_999).map(str),
        "branch": any_text,
        "sha": st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
        "short_sha": st.text(alphabet="0123456789abcdef", min_size=7, max_size=7),
        "tag": any_text,
        "run_id": st.integers(1, 10**12).map(str),
    }
)


@given(templates, run_values)
def test_valid_templates_render_to_valid_names_for_any_run(
    template: str, values: dict[str, str]
) -> None:
    assume(template_problems(template) == [])
    name = render(template, values)
    assert is_valid_endpoint_name(name), name
    assert render(template, values) == name


@given(st.text(max_size=40), run_values)
def test_any_template_either_renders_validly_or_is_refused(
    template: str, values: dict[str, str]
) -> None:
    if template_problems(template) == []:
        assert is_valid_endpoint_name(render(template, values))


@given(templates, run_values, run_values)
def test_different_runs_of_a_template_only_differ_in_placeholders(
    template: str, first: dict[str, str], second: dict[str, str]
) -> None:
    assume(template_problems(template) == [])
    if not any("{" + name + "}" in template for name in PLACEHOLDERS):
        assert render(template, first) == render(template, second)

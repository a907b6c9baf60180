"""Rules a JSON Schema cannot express: cross-field rules, name templates, and referenced files.

Each rule reads the document defensively: a value of the wrong type was already reported by the
schema check, so a rule skips it instead of reporting it twice (or crashing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from deployer.diagnostics import did_you_mean
from deployer.files import MAX_REQUEST_BYTES, MAX_SCHEMA_BYTES, UnreadableFile, read_bounded
from deployer.spec import names
from deployer.spec.agreement_rules import agreement_findings
from deployer.spec.asset_rules import (
    CODE,
    ENVIRONMENT,
    MODEL,
    conda_problem,
    reference_findings,
    what_runs_findings,
)
from deployer.spec.autoscale_rules import autoscale_findings
from deployer.spec.collector_rules import collector_findings
from deployer.spec.findings import Finding, error, warning
from deployer.spec.model import RESERVED_VARIABLE_PREFIXES, is_reference, reserved_variable
from deployer.spec.schemacheck import deploy_schema
from deployer.spec.skus import (
    LIMITS,
    LIVENESS_SUCCESS_THRESHOLD,
    LIVENESS_SUCCESS_THRESHOLD_WORDS,
    MANAGED_ONLINE_SKUS,
)
from deployer.spec.source import Document, JsonPath
from deployer.tags import is_reserved


@dataclass(frozen=True)
class Places:
    """Where relative paths start (the deploy file's folder) and where they must stay."""

    folder: Path
    workspace: Path


def rule_findings(document: Document, places: Places) -> list[Finding]:
    return [
        *_rollout(document),
        *_smoke_from(document),
        *_endpoint_name(document),
        *_endpoint_tags(document),
        *_image_ref(document),
        *_instance_type(document),
        *_liveness_success_threshold(document),
        *_instance_count(document),
        *autoscale_findings(document),
        *collector_findings(document),
        *what_runs_findings(document),
        *reference_findings(document),
        *_files(document, places),
        *_asset_files(document, places),
        *agreement_findings(document, places.folder, places.workspace),
    ]


def _rollout(document: Document) -> Iterator[Finding]:
    rollout = document.get(("rollout",))
    if not isinstance(rollout, dict):
        return
    strategy = rollout.get("strategy", "blue-green")
    if not isinstance(strategy, str):
        return
    if "strategy" in rollout:
        where = f", set at line {document.value_mark(('rollout', 'strategy')).line}"
    else:
        where = ", the default"
    steps_path: JsonPath = ("rollout", "canary_steps")
    steps = rollout.get("canary_steps")
    if steps is not None and strategy != "canary":
        yield error(
            steps_path,
            f"only applies to strategy canary (the strategy is {strategy!r}{where}); "
            "remove it, or move it to the environments that use canary",
            document.key_mark(steps_path),
        )
    elif isinstance(steps, list) and all(_is_int(step) for step in steps) and steps:
        for index in range(1, len(steps)):
            if steps[index] <= steps[index - 1]:
                yield error(
                    (*steps_path, index),
                    f"must be greater than the step before it ({steps[index - 1]}); "
                    f"canary steps increase strictly (got {steps[index]})",
                    document.value_mark((*steps_path, index)),
                )
        if steps[-1] != 100:
            last = len(steps) - 1
            yield error(
                (*steps_path, last),
                f"must be 100: the last canary step sends all traffic to the new deployment "
                f"(got {steps[-1]})",
                document.value_mark((*steps_path, last)),
            )
    keep_path: JsonPath = ("rollout", "keep_previous")
    if rollout.get("keep_previous") not in (None, False) and strategy != "blue-green":
        yield error(
            keep_path,
            f"only applies to strategy blue-green (the strategy is {strategy!r}{where})",
            document.key_mark(keep_path),
        )
    yield from _judged_rollout(document, rollout, strategy, where)


def _judged_rollout(
    document: Document, rollout: dict[str, Any], strategy: str, where: str
) -> Iterator[Finding]:
    """analysis, shadow and bake_minutes need a deployment to go back to; shadow is judged by
    analysis. (agreement is allowed with replace, a preview's strategy: it is not judged there,
    with no second deployment on the endpoint to compare with.)"""
    for name in ("analysis", "shadow", "bake_minutes"):
        path: JsonPath = ("rollout", name)
        if name in rollout and strategy == "replace":
            yield error(
                path,
                f"needs a previous deployment to go back to: strategy blue-green or canary (the "
                f"strategy is 'replace'{where}, which updates the one deployment in place)",
                document.key_mark(path),
            )
    if "shadow" in rollout and "analysis" not in rollout and strategy != "replace":
        shadow_path: JsonPath = ("rollout", "shadow")
        yield error(
            shadow_path,
            "a shadow stage is judged by rollout.analysis, which is not set; add `analysis: {}` "
            "for its defaults, or your thresholds",
            document.key_mark(shadow_path),
        )
    yield from _analysis_load(document, rollout)
    yield from _agreement_from_the_runner(document, rollout)


def _agreement_from_the_runner(document: Document, rollout: dict[str, Any]) -> Iterator[Finding]:
    """`agreement` sends its requests from the runner, like the smoke test."""
    smoke = document.get(("smoke_test",))
    if "agreement" not in rollout or not isinstance(smoke, dict) or smoke.get("from") != "none":
        return
    path: JsonPath = ("rollout", "agreement")
    yield error(
        path,
        "sends its requests from the runner to both deployments, and smoke_test.from is 'none' "
        "(the runner cannot reach the scoring URI); run the job on a runner inside the "
        "endpoint's network, or remove `agreement`",
        document.key_mark(path),
    )


def _analysis_load(document: Document, rollout: dict[str, Any]) -> Iterator[Finding]:
    """`analysis.load` sends the smoke test's request: there must be one the runner can send."""
    analysis = rollout.get("analysis")
    if not isinstance(analysis, dict) or "load" not in analysis:
        return
    path: JsonPath = ("rollout", "analysis", "load")
    smoke = document.get(("smoke_test",))
    if not isinstance(smoke, dict):
        yield error(
            path,
            "sends the smoke test's request to the new deployment, and there is no smoke_test; "
            "add `smoke_test: {request: <a JSON file>}`, or remove `load`",
            document.key_mark(path),
        )
    elif smoke.get("from") == "none":
        yield error(
            path,
            "needs a runner that can reach the scoring URI, and smoke_test.from is 'none'; "
            "remove `load` (only live traffic can judge the rollout then), or run the job on a "
            "runner inside the endpoint's network",
            document.key_mark(path),
        )


def _smoke_from(document: Document) -> Iterator[Finding]:
    """Without a smoke test, only live traffic can judge the new deployment before it serves
    everyone: a canary step below 100 or a shadow stage, judged by rollout.analysis."""
    path: JsonPath = ("smoke_test", "from")
    if document.get(path) != "none":
        return
    rollout = document.get(("rollout",))
    rollout = rollout if isinstance(rollout, dict) else {}
    steps = rollout.get("canary_steps", [10, 50, 100])
    canary = rollout.get("strategy") == "canary" and isinstance(steps, list) and len(steps) > 1
    if "analysis" in rollout and (canary or "shadow" in rollout):
        return
    yield error(
        path,
        "is none: no smoke test is sent, so only live traffic can judge the new "
        "deployment: set rollout.analysis with strategy canary (a step below 100) or a "
        "rollout.shadow stage; or send the smoke test from a runner inside the workspace's "
        "network (from: runner)",
        document.value_mark(path),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _endpoint_name(document: Document) -> Iterator[Finding]:
    path: JsonPath = ("endpoint", "name")
    template = document.get(path)
    if not isinstance(template, str) or not template:
        return  # the schema check reported it
    problems = names.template_problems(template)
    if problems:
        if not _matches_schema(("endpoint", "name"), template):
            # The schema check already said which characters are allowed.
            problems = [problem for problem in problems if not problem.startswith("contains ")]
        for problem in problems:
            yield error(path, problem, document.value_mark(path))
        return
    if not names.placeholders(template):
        rendered = names.render(template, {})
        if rendered != template:
            yield warning(
                path,
                f"will be used as {rendered!r} (names are lower-cased and repeated '-' "
                "collapsed); write it that way to avoid surprises",
                document.value_mark(path),
            )


def finite_findings(document: Document) -> Iterator[Finding]:
    """Every number of the deploy file finite: YAML reads `.inf`, `.nan` and `1.0e+999` as floats
    that pass every JSON Schema bound (a `ttl_hours: .inf` preview would never be swept)."""
    yield from _non_finite(document, ())


def _non_finite(document: Document, path: JsonPath) -> Iterator[Finding]:
    value = document.get(path)
    if isinstance(value, float) and not math.isfinite(value):
        yield error(path, f"must be a finite number (got {value})", document.value_mark(path))
    elif isinstance(value, dict):
        for key in value:
            yield from _non_finite(document, (*path, key))
    elif isinstance(value, list):
        for index in range(len(value)):
            yield from _non_finite(document, (*path, index))


def _endpoint_tags(document: Document) -> Iterator[Finding]:
    tags = document.get(("endpoint", "tags"))
    if not isinstance(tags, dict):
        return
    for name in tags:
        if isinstance(name, str) and is_reserved(name):
            path: JsonPath = ("endpoint", "tags", name)
            yield error(
                path,
                "is a tag azureml-deploy sets itself (it says who owns the endpoint, and Azure "
                "compares tag names case-insensitively); remove it",
                document.key_mark(path),
            )


def preview_findings(document: Document) -> Iterator[Finding]:
    """A preview environment (one with ttl_hours) names one endpoint per pull request: its
    name template must contain {pr}, so that no pull request can name another's endpoint, or
    production's."""
    path: JsonPath = ("endpoint", "name")
    template = document.get(path)
    if not isinstance(template, str) or names.template_problems(template):
        return  # reported by the name rule
    if "pr" not in names.placeholders(template):
        yield error(
            path,
            f"must contain {{pr}} in a preview environment (one with ttl_hours), e.g. "
            f"'{_with_pr(template)}': each pull request gets its own endpoint, and no pull "
            "request can name another's, or production's",
            document.value_mark(path),
        )


def baseline_findings(document: Document, baselines: Mapping[str, bool]) -> Iterator[Finding]:
    """A preview's rollout.agreement.baseline names an environment of the file that is not a
    preview (`baselines`: each environment, and whether it may be one)."""
    path: JsonPath = ("rollout", "agreement", "baseline")
    name = document.get(path)
    if not isinstance(name, str) or baselines.get(name, False):
        return
    fix = (
        f"is the preview environment {name!r}: a scorecard compares a preview with the "
        "environment its pull request merges into, e.g. production"
        if name in baselines
        else f"names no environment of this file (defined: {', '.join(baselines) or 'none'})"
    )
    yield error(path, fix, document.value_mark(path))


def _with_pr(template: str) -> str:
    suggestion = f"{template}-pr{{pr}}"
    return suggestion if not names.template_problems(suggestion) else "app-pr{pr}"


_REF = re.compile(r"(?:(?P<registry>[^/]+)/)?(?P<repository>[^:@]+)(?::[^@]+)?(?:@.+)?")


def _ref_parts(ref: str) -> dict[str, str] | None:
    """image.ref's registry and repository by Docker's rule (deployer/image/reference.py): a
    first component without '.' or ':' (nor `localhost`) is a Docker Hub repository's."""
    match = _REF.fullmatch(ref)
    if match is None:
        return None
    registry, repository = match["registry"], match["repository"]
    if registry is None or not ("." in registry or ":" in registry or registry == "localhost"):
        name = ref.partition("@")[0].partition(":")[0]
        registry, repository = "docker.io", name if "/" in name else f"library/{name}"
    return {"registry": registry, "repository": repository}


def _image_ref(document: Document) -> Iterator[Finding]:
    image = document.get(("image",))
    if not isinstance(image, dict) or not isinstance(image.get("ref"), str):
        return
    parts = _ref_parts(image["ref"])
    if parts is None or not _matches_schema(("image", "ref"), image["ref"]):
        return  # the schema check reported it
    if "{" in parts["registry"]:  # the pattern lets a first component with '.' hold one
        field = deploy_schema()["$defs"]["image"]["properties"]["ref"]
        yield error(
            ("image", "ref"),
            f"{field['errorMessage']}; the registry cannot be a placeholder",
            document.value_mark(("image", "ref")),
        )
        return
    problems = names.placeholder_problems(image["ref"])
    for problem in problems:
        yield error(("image", "ref"), problem, document.value_mark(("image", "ref")))
    for part in ("registry", "repository"):
        given = image.get(part)
        if (
            isinstance(given, str)
            and not problems
            and not names.placeholders(parts[part])
            and _matches_schema(("image", part), given)
            and given != parts[part]
        ):
            yield error(
                ("image", part),
                f"is {given!r} but image.ref is in {part} {parts[part]!r}; "
                f"remove image.{part} or make them agree",
                document.value_mark(("image", part)),
            )


_DEFINITION_OF = {"endpoint": "endpoint", "image": "image"}


def _matches_schema(path: JsonPath, value: str) -> bool:
    """Whether `value` matches the schema's pattern for the field at `path` (section, field)."""
    section, name = path
    field = deploy_schema()["$defs"][_DEFINITION_OF[str(section)]]["properties"][name]
    return re.fullmatch(field["pattern"], value) is not None


def _instance_type(document: Document) -> Iterator[Finding]:
    path: JsonPath = ("deployment", "instance_type")
    size = document.get(path)
    if not isinstance(size, str) or size in MANAGED_ONLINE_SKUS:
        return
    suggestion = did_you_mean(size, sorted(MANAGED_ONLINE_SKUS))
    yield warning(
        path,
        f"{size!r} is not a VM size known to support managed online endpoints{suggestion} "
        "(Azure will refuse it if it is not)",
        document.value_mark(path),
    )


def _liveness_success_threshold(document: Document) -> Iterator[Finding]:
    path: JsonPath = ("deployment", "liveness_probe", "success_threshold")
    value = document.get(path)
    if not isinstance(value, int) or isinstance(value, bool):
        return
    if value != LIVENESS_SUCCESS_THRESHOLD:
        yield error(
            path,
            f"must be {LIVENESS_SUCCESS_THRESHOLD} (got {value}): Azure ML's deployment schema "
            f'says "{LIVENESS_SUCCESS_THRESHOLD_WORDS}"; remove it, or set it on '
            "readiness_probe instead",
            document.value_mark(path),
        )


def _instance_count(document: Document) -> Iterator[Finding]:
    path: JsonPath = ("deployment", "instance_count")
    count, limit = document.get(path), LIMITS["instances_per_deployment"]
    if isinstance(count, int) and not isinstance(count, bool) and count > limit:
        yield warning(
            path,
            f"is {count}; Azure ML allows {limit} instances per deployment unless the "
            "subscription's endpoint limits were raised (a support request)",
            document.value_mark(path),
        )


def _files(document: Document, places: Places) -> Iterator[Finding]:
    if isinstance(document.get(("smoke_test",)), dict):
        yield from _json_file(document, places, ("smoke_test", "request"), is_schema=False)
        yield from _json_file(
            document, places, ("smoke_test", "expect_body_schema"), is_schema=True
        )
    if isinstance(document.get(("image", "build")), dict):
        context_field = _PathField(("image", "build", "context"), "directory", default=".")
        context, problem = _resolve(document, places, context_field, places.folder)
        if problem is not None:
            yield problem
        elif context is not None:
            dockerfile_field = _PathField(
                ("image", "build", "dockerfile"), "file", default="Dockerfile"
            )
            _, problem = _resolve(document, places, dockerfile_field, context)
            if problem is not None:
                yield problem
        yield from _secret_files(document, places)


def _secret_files(document: Document, places: Places) -> Iterator[Finding]:
    """A secret's file is named like the build context: relative to the deploy file, inside
    the workspace (a symlink out of it is refused)."""
    secrets = document.get(("image", "build", "secrets"))
    if not isinstance(secrets, dict):
        return
    for secret_id, source in secrets.items():
        variable = source.get("env") if isinstance(source, dict) else None
        if isinstance(variable, str) and reserved_variable(variable):
            path_env: JsonPath = ("image", "build", "secrets", secret_id, "env")
            yield error(
                path_env,
                f"names {variable}, a variable of the runner or of azureml-deploy "
                f"({', '.join(p + '*' for p in RESERVED_VARIABLE_PREFIXES)}): it carries the "
                "job's credentials, which a build step must not get; give the secret a "
                "variable of its own, e.g. env: PIP_INDEX_TOKEN",
                document.value_mark(path_env),
            )
        if isinstance(source, dict) and "file" in source:
            path: JsonPath = ("image", "build", "secrets", secret_id, "file")
            # Often written by an earlier step of the job: it must exist when the image is
            # built (image/secrets.py), not when the file is validated.
            field = _PathField(path, "file", exists_now=False)
            _, problem = _resolve(document, places, field, places.folder)
            if problem is not None:
                yield problem


def _asset_files(document: Document, places: Places) -> Iterator[Finding]:
    model = document.get(MODEL)
    model_path = MODEL if isinstance(model, str) else (*MODEL, "path")
    if isinstance(model, dict) or (isinstance(model, str) and not is_reference(model)):
        _, problem = _resolve(document, places, _PathField(model_path, "entry"), places.folder)
        if problem is not None:
            yield problem
    if isinstance(document.get(CODE), dict):
        code, problem = _resolve(
            document, places, _PathField((*CODE, "code"), "directory"), places.folder
        )
        if problem is not None:
            yield problem
        elif code is not None:
            script = _PathField((*CODE, "scoring_script"), "file")
            yield from _inside(document, places, script, code)
    environment = document.get(ENVIRONMENT)
    if not isinstance(environment, dict):
        return
    conda_path: JsonPath = (*ENVIRONMENT, "conda_file")
    conda, problem = _resolve(document, places, _PathField(conda_path, "file"), places.folder)
    if problem is not None:
        yield problem
    elif conda is not None and (reason := conda_problem(conda)) is not None:
        shown = conda.relative_to(places.workspace.resolve()).as_posix()
        yield error(conda_path, f"names {shown}, which {reason}", document.value_mark(conda_path))
    if isinstance(environment.get("build"), dict):
        build: JsonPath = (*ENVIRONMENT, "build")
        context, problem = _resolve(
            document, places, _PathField((*build, "path"), "directory"), places.folder
        )
        if problem is not None:
            yield problem
        elif context is not None:
            dockerfile = _PathField((*build, "dockerfile_path"), "file", default="Dockerfile")
            yield from _inside(document, places, dockerfile, context)


def _inside(
    document: Document, places: Places, field: _PathField, folder: Path
) -> Iterator[Finding]:
    """A path relative to `folder` that must stay inside it (it is uploaded with it)."""
    resolved, problem = _resolve(document, places, field, folder)
    if problem is not None:
        yield problem
    elif resolved is not None and not resolved.is_relative_to(folder):
        written = document.get(field.path)
        yield error(
            field.path,
            f"names {written}, which is outside {folder.name}/, the folder uploaded with it",
            document.value_mark(field.path),
        )


@dataclass(frozen=True)
class _PathField:
    path: JsonPath
    kind: Literal["file", "directory", "entry"]  # entry: a file or a directory
    default: str | None = None
    exists_now: bool = True  # False: only where it points is checked


def _resolve(
    document: Document, places: Places, field: _PathField, folder: Path
) -> tuple[Path | None, Finding | None]:
    """The path named by `field`, resolved from `folder`, or a finding saying what is wrong."""
    path = field.path
    written = document.get(path, field.default)
    if not isinstance(written, str) or not written:
        return None, None  # absent, or the schema check reported it
    given = isinstance(document.get(path), str)
    mark = document.value_mark(path) if given else document.key_mark(path[:-1])
    shown = written if given else f"{written} (the default)"
    if Path(written).is_absolute():
        return None, error(
            path, f"must be a path relative to the deploy file (got {written})", mark
        )
    resolved = (folder / written).resolve()
    workspace = places.workspace.resolve()
    if not resolved.is_relative_to(workspace):
        return None, error(path, f"points outside the workspace ({shown})", mark)
    relative = resolved.relative_to(workspace).as_posix() or "."
    if not field.exists_now and not resolved.exists():
        return resolved, None
    if not resolved.exists():
        return None, error(path, f"names {shown}, but {relative} does not exist", mark)
    if field.kind == "file" and not resolved.is_file():
        return None, error(path, f"names {shown}, but {relative} is not a file", mark)
    if field.kind == "directory" and not resolved.is_dir():
        return None, error(path, f"names {shown}, but {relative} is not a directory", mark)
    return resolved, None


def _json_file(
    document: Document, places: Places, path: JsonPath, *, is_schema: bool
) -> Iterator[Finding]:
    file, problem = _resolve(document, places, _PathField(path, "file"), places.folder)
    if problem is not None:
        yield problem
        return
    if file is None:
        return
    shown = file.relative_to(places.workspace.resolve()).as_posix()
    content, reason = _load_json(file, MAX_SCHEMA_BYTES if is_schema else MAX_REQUEST_BYTES)
    if reason is None and is_schema:
        try:
            Draft202012Validator.check_schema(content)
        except SchemaError as exc:
            reason = f"is not a valid JSON Schema: {exc.message}"
    if reason is not None:
        yield error(path, f"names {shown}, which {reason}", document.value_mark(path))


def _load_json(file: Path, limit: int) -> tuple[Any, str | None]:
    try:
        return json.loads(read_bounded(file, limit).decode("utf-8-sig")), None
    except UnreadableFile as exc:
        return None, str(exc)
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON: {exc.msg} at its line {exc.lineno}, column {exc.colno}"
    except RecursionError:
        return None, "is JSON nested too deeply"

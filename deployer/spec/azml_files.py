"""Azure ML CLI (az ml) endpoint and deployment files as the deploy file's sections:
`endpoint: {file: endpoint.yml}`, `deployment: {file: blue-deployment.yml}` (the other keys
beside `file:` override the file's), or --endpoint-file / --deployment-file with no deploy file.

Each file is read twice: by azure-ai-ml's loader (azml_sdk.py), so that what az ml refuses is
refused, and located, so that its values go into the deploy file's section keeping their place
in the az ml file: every later check (schema, rules) reports at the az ml file's line. The
deploy file's `deployment:` and `endpoint:` take az ml's own field names, so most fields are
copied as they are; what differs is written here:

- a deployment's `name` and `endpoint_name` are the rollout's to choose (blue, green, the
  endpoint the deploy file names); `endpoint_name` names the endpoint when nothing else does;
- `environment.inference_config` is the deployment's `inference_config`;
- an inline model's or environment's `name` and `version` are the action's (registered under the
  endpoint's name, at a version named by the content);
- an endpoint's `identity.user_assigned_identities: [{resource_id}]` is `identity.resource_id`;
- an endpoint's `traffic` and `mirror_traffic` are the rollout's to move;
- paths are the az ml file's, relative to its folder: rewritten relative to the deploy file's.

- `data_collector`'s `rolling_rate` and `enabled` are read in any case, as az ml reads them.

Fields az ml reads that azureml-deploy does not yet (a collection's `client_id`, ...) are errors
at their line, with what to do: a deployment never silently drops something its author relied
on.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.diagnostics import Problem, Severity
from deployer.files import UnreadableFile, read_bounded
from deployer.spec.azml import azml_kind, section_fields
from deployer.spec.findings import Finding, error, notice
from deployer.spec.overlay import merge
from deployer.spec.source import Document, JsonPath, Location, Mark, load_document

MAX_FILE_BYTES = 1024 * 1024
SECTIONS = ("endpoint", "deployment")
# Where a deployment names local files, relative to its file's folder (a string `model` is a
# path unless it is an azureml: reference).
LOCAL_PATHS: tuple[JsonPath, ...] = (
    ("model",),
    ("model", "path"),
    ("code_configuration", "code"),
    ("environment", "conda_file"),
    ("environment", "build", "path"),
)

_NOT_USED = "not used: "
_UNSUPPORTED = "azml:unsupported"
_DEPLOYMENT_NOTES = {
    "name": "the rollout names the deployment (blue, green)",
    "description": "azureml-deploy describes and tags its deployments itself (who owns them)",
    "tags": "azureml-deploy describes and tags its deployments itself (who owns them)",
    "properties": "azureml-deploy describes and tags its deployments itself (who owns them)",
}
# An inline asset's identity: the action registers it under the endpoint's name, at a version
# named by its content (deployer/assets), so that a re-run registers nothing.
_ASSET_IDENTITY = ("name", "version", "description", "tags", "properties")


@dataclass(frozen=True)
class GivenFiles:
    """--endpoint-file and --deployment-file (the `endpoint-file`, `deployment-file` inputs)."""

    endpoint: Path | None = None
    deployment: Path | None = None

    @classmethod
    def of(cls, endpoint: str | None, deployment: str | None) -> GivenFiles:
        return cls(Path(endpoint) if endpoint else None, Path(deployment) if deployment else None)

    def __bool__(self) -> bool:
        return self.endpoint is not None or self.deployment is not None


NO_FILES = GivenFiles()


@dataclass
class Expanded:
    document: Document
    problems: list[Problem] = field(default_factory=list)
    # sections of an environment that name a file: they replace the base's, not merge over it
    replaced: set[JsonPath] = field(default_factory=set)
    # a deployment file's endpoint_name, and where: by the deployment section it was read into
    endpoint_names: dict[JsonPath, tuple[str, Mark]] = field(default_factory=dict)
    # what az ml itself refuses: reported where the deploy file's own checks are silent
    refused: list[Problem] = field(default_factory=list)
    # a file could not be read, or names no endpoint: checking the sections it was to fill
    # would only say they are empty
    incomplete: bool = False


def expand_azml_files(document: Document, folder: Path, workspace: Path) -> Expanded:
    """`document` with every `{file: …}` section replaced by the az ml file's fields (and the
    section's other keys over them)."""
    result = Expanded(document)
    overlays = document.get(("environments",))
    places: list[JsonPath] = [(section,) for section in SECTIONS]
    if isinstance(overlays, dict):
        places += [("environments", name, s) for name in overlays for s in SECTIONS]
    for path in places:
        section = result.document.get(path)
        if not isinstance(section, dict) or "file" not in section:
            continue
        translated = _read_section(result, path, folder, workspace)
        overrides = _without(result.document.subdocument(path), "file")
        combined = merge(translated, overrides)
        result.document = _put(result.document, path, combined)
        if path[0] == "environments":
            result.replaced.add(path)
    _endpoint_name_from_deployment(result)
    return result


def shown_path(path: Path) -> str:
    """A file's name as the log shows it: relative to the working directory, where it can be."""
    try:
        return Path(os.path.relpath(path.resolve(), Path.cwd())).as_posix()
    except ValueError:
        return path.as_posix()


# --- reading --------------------------------------------------------------------------------


def _read_section(result: Expanded, path: JsonPath, folder: Path, workspace: Path) -> Document:
    """The deploy-file section an az ml file says, or an empty one (its problems reported)."""
    document = result.document
    what = str(path[-1])
    reference = document.get((*path, "file"))
    mark = document.value_mark((*path, "file"))
    empty = Document({}, {(): document.locations.get(path, Location(mark))}, {})

    def refuse(detail: str) -> Document:
        result.problems.append(error((*path, "file"), detail, mark).problem())
        result.incomplete = True
        return empty

    if not isinstance(reference, str) or not reference.strip():
        return refuse(f"must be the path of an az ml {what} file, e.g. {what}.yml")
    target = (folder / reference).resolve()
    if not target.is_relative_to(workspace.resolve()):
        return refuse(f"{reference!r} is outside the workspace; keep it in the repository")
    if not target.is_file():
        return refuse(f"{reference!r} is not a file (paths are relative to the deploy file)")
    try:
        raw = read_bounded(target, MAX_FILE_BYTES)
    except UnreadableFile as exc:
        return refuse(f"{reference!r} {exc}")
    loaded = load_document(raw, file=shown_path(target))
    result.problems.extend(loaded.problems)
    azml = loaded.document
    if azml is None:
        result.incomplete = True
        return empty
    kind = azml_kind(azml.data)
    if kind is not None and kind != ("managed", what):
        compute, other = kind
        where = "deploy it with az ml" if compute == "kubernetes" else f"give it as the {other}"
        mark = azml.key_mark(("$schema",))
        detail = f"this is an az ml {compute} online {other} file, not a managed online {what} "
        message = f"{detail}file: {where}"
        result.problems.append(Problem(mark.line, mark.column, Severity.ERROR, message, mark.file))
        result.incomplete = True
        return empty
    if loaded.problems:
        result.incomplete = True
        return empty
    translation = translate(azml, target, what, folder, workspace)
    if translation.endpoint_name is not None:
        result.endpoint_names[path] = translation.endpoint_name
    result.problems.extend(finding.problem() for finding in translation.findings)
    result.refused.extend(finding.problem() for finding in translation.refused)
    return translation.section


@dataclass
class Translation:
    """An az ml file as the deploy file's section of the same name."""

    section: Document
    refused: list[Finding]  # what az ml itself refuses
    findings: list[Finding]  # what did not carry over, and how the rest was read
    origins: dict[str, JsonPath]  # each of the section's keys: the az ml field it came from
    endpoint_name: tuple[str, Mark] | None  # a deployment file's endpoint_name


def translate(
    azml: Document, path: Path, what: str, deploy_folder: Path, workspace: Path
) -> Translation:
    """The az ml `what` file at `path` (read into `azml`), with its paths made relative to
    `deploy_folder`."""
    from deployer.spec.azml_sdk import sdk_findings

    translator = _Translator(azml, path.parent, deploy_folder, what)
    section = translator.deployment() if what == "deployment" else translator.endpoint()
    # azure-ai-ml opens the files the az ml file names (a conda file is read as YAML): only
    # when they stay in the workspace; the deploy file's own checks refuse the others
    inside = all(
        (deploy_folder / named).resolve().is_relative_to(workspace.resolve())
        for named in _named_paths(section)
    )
    refused = sdk_findings(path, what, azml, translator.sdk_overrides()) if inside else []
    said_by_az_ml = {finding.path[:1] for finding in refused}
    ours = [
        finding
        for finding in translator.findings
        if not (finding.kind == _UNSUPPORTED and finding.path[:1] in said_by_az_ml)
    ]
    name = translator.endpoint_name
    named = None if name is None else (name, azml.value_mark(("endpoint_name",)))
    return Translation(section, refused, ours, translator.origins, named)


def _named_paths(section: Document) -> list[str]:
    """The local paths a deployment section names (relative to the deploy file)."""
    named = [section.get(place) for place in LOCAL_PATHS]
    return [value for value in named if isinstance(value, str) and not value.startswith("azureml:")]


# --- translating ----------------------------------------------------------------------------


class _Translator:
    """One az ml file's fields → the deploy file's section of the same name."""

    def __init__(self, source: Document, source_folder: Path, deploy_folder: Path, what: str):
        self.source, self.what = source, what
        self.source_folder, self.deploy_folder = source_folder, deploy_folder
        self.out = Document({}, {(): source.locations[()]}, {})
        self.findings: list[Finding] = []
        self.origins: dict[str, JsonPath] = {}
        self.endpoint_name: str | None = None

    def sdk_overrides(self) -> dict[str, str]:
        """What az ml's command line gives when the file leaves it out (--name,
        --endpoint-name): the action chooses them, so a file without them is complete."""
        data = self.source.data
        if self.what != "deployment":
            return {} if "name" in data else {"name": "placeholder"}
        given = {"name": "blue", "endpoint_name": "placeholder"}
        return {key: value for key, value in given.items() if key not in data}

    def deployment(self) -> Document:
        known = section_fields("deployment")
        for key, value in self.source.data.items():
            if key in ("$schema",):
                continue
            if key in _DEPLOYMENT_NOTES:
                self._note(key, _DEPLOYMENT_NOTES[key])
            elif key == "endpoint_name":
                self.endpoint_name = value if isinstance(value, str) else None
            elif key == "type":
                self._type(value)
            elif key == "model":
                self._asset(key, value, ("path",), "model")
            elif key == "environment":
                self._environment(value)
            elif key == "scale_settings":
                self._scale_settings(value)
            elif key == "data_collector":
                self._data_collector()
            elif key in known and key not in ("inference_config", "autoscale"):
                self._copy((key,), (key,))
            else:
                self._unsupported(key)
        for place in LOCAL_PATHS:
            self._rebase(place)
        return self.out

    def endpoint(self) -> Document:
        known = section_fields("endpoint")
        for key, value in self.source.data.items():
            if key in ("$schema",):
                continue
            if key == "identity":
                self._identity(value)
            elif key in ("traffic", "mirror_traffic"):
                self._note(key, "the rollout moves the endpoint's traffic")
            elif key in known:
                self._copy((key,), (key,))
            else:
                self._unsupported(key)
        return self.out

    # --- fields that differ -------------------------------------------------------------------

    def _type(self, value: Any) -> None:
        if value != "managed":
            self._error(("type",), "azureml-deploy deploys to managed online endpoints only")

    def _asset(self, key: str, value: Any, keep: tuple[str, ...], what: str) -> None:
        if not isinstance(value, dict):
            self._copy((key,), (key,))
            return
        for part in value:
            if part in keep or part == "type":
                self._copy((key, part), (key, part))
            elif part in _ASSET_IDENTITY:
                self._note(
                    (key, part),
                    f"azureml-deploy registers the {what} under the endpoint's name, at a "
                    "version named by its content",
                )
            else:
                self._unsupported((key, part))

    def _environment(self, value: Any) -> None:
        if not isinstance(value, dict):
            self._copy(("environment",), ("environment",))
            return
        for part in value:
            if part in ("image", "conda_file", "build"):
                self._copy(("environment", part), ("environment", part))
            elif part == "inference_config":
                self._copy(("environment", part), ("inference_config",))
            elif part == "os_type" and str(value[part]).lower() == "linux":
                continue
            elif part in _ASSET_IDENTITY:
                self._note(
                    ("environment", part),
                    "azureml-deploy registers the environment under the endpoint's name, at a "
                    "version named by its content",
                )
            else:
                self._unsupported(("environment", part))

    def _data_collector(self) -> None:
        """Copied as it is, az ml's spellings made the deploy file's: azure-ai-ml reads
        `rolling_rate` and `enabled` in any case (StringTransformedEnum), the deploy file
        `hour` and a boolean."""
        self._copy(("data_collector",), ("data_collector",))
        collector = self.out.data["data_collector"]
        if not isinstance(collector, dict):
            return  # the schema says what is wrong
        if "request_logging" in collector:
            self._unsupported(("data_collector", "request_logging"))
            del collector["request_logging"]
        rate = collector.get("rolling_rate")
        if isinstance(rate, str):
            collector["rolling_rate"] = rate.lower()
        collections = collector.get("collections")
        for name, settings in collections.items() if isinstance(collections, dict) else ():
            if not isinstance(settings, dict):
                continue
            if "client_id" in settings:
                self._unsupported(("data_collector", "collections", name, "client_id"))
                del settings["client_id"]
            enabled = settings.get("enabled")
            if isinstance(enabled, str) and enabled.lower() in ("true", "false"):
                settings["enabled"] = enabled.lower() == "true"

    def _scale_settings(self, value: Any) -> None:
        if isinstance(value, dict) and value.get("type", "default") == "default":
            self._note("scale_settings", "instance_count (and autoscale) scale the deployment")
        else:
            self._error(
                ("scale_settings",),
                "managed online deployments scale by instance_count, or by an autoscale "
                "setting: give `autoscale:` in the deploy file's deployment",
            )

    def _identity(self, value: Any) -> None:
        if not isinstance(value, dict):
            self._copy(("identity",), ("identity",))  # the schema says what is wrong
            return
        kind = value.get("type")
        self._copy(("identity", "type"), ("identity", "type"))
        assigned = value.get("user_assigned_identities")
        one = assigned[0] if isinstance(assigned, list) and len(assigned) == 1 else None
        if kind == "user_assigned" and isinstance(one, dict) and "resource_id" in one:
            self._copy(
                ("identity", "user_assigned_identities", 0, "resource_id"),
                ("identity", "resource_id"),
            )
            return
        if assigned is not None:
            self._error(
                ("identity", "user_assigned_identities"),
                "must be one {resource_id: …}, with type: user_assigned: azureml-deploy runs "
                "an endpoint with one identity",
            )
        for part in value:
            if part not in ("type", "user_assigned_identities"):
                self._unsupported(("identity", part))

    # --- building blocks ----------------------------------------------------------------------

    def _copy(self, source: JsonPath, target: JsonPath) -> None:
        value = self.source.get(source)
        holder = self.out.data
        for depth in range(1, len(target)):
            holder = holder.setdefault(target[depth - 1], {})
            self.out.locations.setdefault(target[:depth], self.source.locations[source[:1]])
        holder[target[-1]] = copy.deepcopy(value)
        self.origins.setdefault(str(target[0]), source[:1] if len(target) > 1 else source)
        size = len(source)
        for path, location in self.source.locations.items():
            if path[:size] == source:
                self.out.locations[target + path[size:]] = location
        for path, text in self.source.scalar_text.items():
            if path[:size] == source:
                self.out.scalar_text[target + path[size:]] = text

    def _rebase(self, path: JsonPath) -> None:
        """A path the az ml file gives relative to its folder, relative to the deploy file's."""
        holder = self.out.get(path[:-1])
        value = holder.get(path[-1]) if isinstance(holder, dict) else None
        if not isinstance(value, str) or value.startswith("azureml:") or Path(value).is_absolute():
            return
        if self.source_folder.resolve() == self.deploy_folder.resolve():
            return
        rebased = Path(os.path.relpath(self.source_folder / value, self.deploy_folder)).as_posix()
        holder[path[-1]] = rebased + ("/" if value.endswith("/") else "")
        self.out.scalar_text[path] = holder[path[-1]]

    def _mark(self, path: JsonPath) -> Mark:
        return self.source.key_mark(path)

    def _note(self, key: str | JsonPath, why: str) -> None:
        path = (key,) if isinstance(key, str) else key
        self.findings.append(notice(path, f"is {_NOT_USED}{why}", self._mark(path)))

    def _error(self, path: JsonPath, detail: str, kind: str = "rule") -> None:
        self.findings.append(error(path, detail, self._mark(path), kind))

    def _unsupported(self, key: str | JsonPath) -> None:
        path = (key,) if isinstance(key, str) else key
        self._error(
            path,
            f"is an az ml {self.what} field azureml-deploy does not support yet: remove it, "
            "or deploy what needs it with az ml",
            _UNSUPPORTED,
        )


# --- putting it back --------------------------------------------------------------------------


def _without(document: Document, key: str) -> Document:
    data = {k: v for k, v in document.data.items() if k != key}
    locations = {p: loc for p, loc in document.locations.items() if not (p and p[0] == key)}
    texts = {p: t for p, t in document.scalar_text.items() if not (p and p[0] == key)}
    return Document(data, locations, texts)


def _put(document: Document, path: JsonPath, section: Document) -> Document:
    """`document` with the value at `path` replaced by `section`, and its places."""
    data = copy.deepcopy(document.data)
    holder = data
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = section.data
    size = len(path)
    keep = document.locations.get(path)
    locations = {p: loc for p, loc in document.locations.items() if p[:size] != path}
    texts = {p: t for p, t in document.scalar_text.items() if p[:size] != path}
    locations.update({path + p: loc for p, loc in section.locations.items()})
    if keep is not None:
        locations[path] = keep  # the section stays where the deploy file wrote it
    texts.update({path + p: t for p, t in section.scalar_text.items()})
    return Document(data, locations, texts)


def _endpoint_name_from_deployment(result: Expanded) -> None:
    """The base deployment file's `endpoint_name` names the endpoint when nothing else does;
    otherwise, and in an environment's file, it is only noted."""
    document = result.document
    base = document.get(("deployment",))
    first = document.value_mark(("deployment",))
    unnamed = "endpoint" not in document.data and ("deployment",) not in result.endpoint_names
    if unnamed and isinstance(base, dict) and first.file:  # an az ml file's, naming no endpoint
        detail = (
            "is not given, and nothing else names the endpoint: add endpoint_name to the az ml "
            "file, or give an endpoint file (--endpoint-file, or `endpoint: {file: …}`)"
        )
        mark = Mark(1, 1, first.file)
        result.problems.append(error(("endpoint_name",), detail, mark).problem())
        result.incomplete = True
    for path, (name, mark) in result.endpoint_names.items():
        document = result.document
        named = document.get((*path[:-1], "endpoint", "name"), document.get(("endpoint", "name")))
        if path == ("deployment",) and named is None:
            endpoint = document.data.setdefault("endpoint", {})
            if isinstance(endpoint, dict):
                endpoint["name"] = name
                document.locations.setdefault(("endpoint",), Location(mark))
                document.locations[("endpoint", "name")] = Location(mark, mark)
                document.scalar_text[("endpoint", "name")] = name
                continue
        if named == name:
            continue
        shown = f"the endpoint is {named}" if isinstance(named, str) else "the endpoint's name"
        detail = f"is {_NOT_USED}{shown} (endpoint.name)"
        result.problems.append(notice(("endpoint_name",), detail, mark).problem())

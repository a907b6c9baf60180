"""rollout.agreement beyond its schema: the request set and the response schema it names are
files inside the workspace, JSON, and bounded — checked before anything changes, each problem
at its line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from deployer.files import (
    MAX_AGREEMENT_BYTES,
    MAX_AGREEMENT_REQUESTS,
    MAX_REQUEST_BYTES,
    MAX_SCHEMA_BYTES,
    UnreadableFile,
    read_bounded,
    request_files,
)
from deployer.spec.findings import Finding, error
from deployer.spec.source import Document, JsonPath

AGREEMENT: JsonPath = ("rollout", "agreement")


def agreement_findings(document: Document, folder: Path, workspace: Path) -> Iterator[Finding]:
    agreement = document.get(AGREEMENT)
    if not isinstance(agreement, dict):
        return
    workspace = workspace.resolve()
    written = agreement.get("requests")
    path: JsonPath = (*AGREEMENT, "requests")
    if isinstance(written, str) and written:
        yield from _folder(document, path, written, folder, workspace)
    elif isinstance(written, list) and all(isinstance(item, str) and item for item in written):
        yield from _listed(document, path, written, folder, workspace)
    compare = agreement.get("compare")
    if isinstance(compare, dict) and isinstance(compare.get("schema"), str) and compare["schema"]:
        yield from _schema(document, (*AGREEMENT, "compare", "schema"), folder, workspace)


def _folder(
    document: Document, path: JsonPath, written: str, folder: Path, workspace: Path
) -> Iterator[Finding]:
    mark = document.value_mark(path)
    directory, outside = _placed(document, path, written, folder, workspace)
    if outside is not None:
        yield outside
        return
    assert directory is not None
    shown = directory.relative_to(workspace).as_posix() or "."
    if not directory.is_dir():
        yield error(
            path,
            f"names {written}, but {shown} is not a folder; name a folder of JSON files, or "
            "list the files",
            mark,
        )
        return
    files = request_files(written, folder)
    if not files:
        yield error(path, f"names {written}, but {shown}/ has no *.json file", mark)
        return
    if len(files) > MAX_AGREEMENT_REQUESTS:
        yield error(
            path,
            f"names {written}, which has more than {MAX_AGREEMENT_REQUESTS} *.json files, the "
            "most azureml-deploy sends; keep a representative sample there",
            mark,
        )
        return
    yield from _contents(document, [(path, file) for file in files], workspace)


def _listed(
    document: Document, path: JsonPath, written: list[str], folder: Path, workspace: Path
) -> Iterator[Finding]:
    files: list[tuple[JsonPath, Path]] = []
    for index, name in enumerate(written):
        item: JsonPath = (*path, index)
        file, outside = _placed(document, item, name, folder, workspace)
        if outside is not None:
            yield outside
        elif file is not None:
            files.append((item, file))
    yield from _contents(document, files, workspace)


def _placed(
    document: Document, path: JsonPath, written: str, folder: Path, workspace: Path
) -> tuple[Path | None, Finding | None]:
    """The path written at `path`, resolved from the deploy file's folder, or why it may not
    be used: absolute, or outside the workspace once symlinks are resolved."""
    mark = document.value_mark(path)
    if Path(written).is_absolute():
        return None, error(
            path, f"must be a path relative to the deploy file (got {written})", mark
        )
    resolved = (folder / written).resolve()
    if not resolved.is_relative_to(workspace):
        return None, error(path, f"points outside the workspace ({written})", mark)
    return resolved, None


def _contents(
    document: Document, files: list[tuple[JsonPath, Path]], workspace: Path
) -> Iterator[Finding]:
    """Each file a JSON request inside the workspace (a symlink in a folder may point out of
    it), and all of them at most MAX_AGREEMENT_BYTES."""
    total = 0
    for path, file in files:
        mark = document.value_mark(path)
        if not file.is_relative_to(workspace):
            yield error(path, f"includes {file.name}, which points outside the workspace", mark)
            continue
        shown = file.relative_to(workspace).as_posix()
        try:
            content = read_bounded(file, MAX_REQUEST_BYTES)
            json.loads(content.decode("utf-8-sig"))
        except UnreadableFile as exc:
            yield error(path, f"includes {shown}, which {exc}", mark)
            continue
        except (UnicodeDecodeError, ValueError, RecursionError):
            yield error(path, f"includes {shown}, which is not a JSON request body", mark)
            continue
        total += len(content)
    if total > MAX_AGREEMENT_BYTES:
        limit = MAX_AGREEMENT_BYTES // 2**20
        yield error(
            files[0][0],
            f"holds {total} bytes of requests, more than {limit} MiB, the most azureml-deploy "
            "sends; keep a smaller sample",
            document.value_mark(files[0][0]),
        )


def _schema(document: Document, path: JsonPath, folder: Path, workspace: Path) -> Iterator[Finding]:
    written = document.get(path)
    assert isinstance(written, str)
    mark = document.value_mark(path)
    file, outside = _placed(document, path, written, folder, workspace)
    if outside is not None:
        yield outside
        return
    assert file is not None
    shown = file.relative_to(workspace).as_posix()
    reason: str | None = None
    try:
        content: Any = json.loads(read_bounded(file, MAX_SCHEMA_BYTES).decode("utf-8-sig"))
        Draft202012Validator.check_schema(content)
    except UnreadableFile as exc:
        reason = str(exc)
    except (UnicodeDecodeError, ValueError, RecursionError):
        reason = "is not JSON"
    except SchemaError as exc:
        reason = f"is not a valid JSON Schema: {exc.message}"
    if reason is not None:
        yield error(path, f"names {shown}, which {reason}", mark)

"""A code-only change deployed from a fresh runner (a second, empty Docker engine): the build
takes its layers from the registry's cache, so the dependency layer (over 100 MB) is not pushed
again; only the changed code layer is. Asserted on the registry's own record of uploads.

Both ways a hosted runner meets the cache: written by a warm engine and read by a fresh one, and
written by one fresh engine and read by another (every job on a GitHub-hosted runner starts
with an empty engine, so this is the case a user of hosted runners has), for a Dockerfile that
installs its dependencies in the final stage, one that copies them in as files, and one that
installs them in a builder stage."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from emulator.uploads import Upload
from tools.engines import Engine, fresh_engine
from tools.heavy_server import Variant, change_code, served_code, write_server
from tools.images import base_image
from tools.repo import App

# Minutes each: started first (tests/conftest.py, _LongestFirst).
pytestmark = [pytest.mark.docker, pytest.mark.long]

# The code layer is a few kilobytes; a pushed image also uploads its config (a few kilobytes
# more, with the inline build cache in it) and its manifest. Anything near a megabyte means a
# layer of the dependencies went up again.
SMALL_BYTES = 1_000_000


def _assert_only_the_changed_layer(
    app: App, first: dict[str, str], second: dict[str, str], uploads: list[Upload], code: str = "2"
) -> None:
    first_layers = app.emulator.image_layers(first["image"])
    dependency = max(first_layers, key=first_layers.__getitem__)
    assert second["image"] != first["image"]
    log = list(app.transcript.values())[-1]  # the second run's stderr
    assert "importing the build cache from " in log and "no build cache from" not in log
    assert "from cache (imported from the registry)" in log
    uploaded = {upload.digest: upload.size for upload in uploads}
    assert dependency not in uploaded, (
        f"the fresh runner pushed the unchanged dependency layer again: {uploads}"
    )
    second_layers = app.emulator.image_layers(second["image"])
    changed = {d: size for d, size in second_layers.items() if d not in first_layers}
    assert changed, "the code change made no new layer"
    layer_bytes = sum(size for digest, size in uploaded.items() if digest in second_layers)
    assert layer_bytes <= 1.1 * sum(changed.values()), (
        f"{layer_bytes} bytes of layers pushed for {sum(changed.values())} changed: {uploads}"
    )
    assert sum(uploaded.values()) < SMALL_BYTES, f"pushed: {uploads}"
    assert app.score(second).json()["color"] == served_code(code)


def test_a_code_change_on_a_fresh_runner_pushes_only_the_changed_layer(
    app: App, fresh_runner: Engine
) -> None:
    server = write_server(app.root / "server", code_version="1")
    app.commit("a model server with a 104 MiB dependency layer")
    mark = app.emulator.registry_mark()
    first = app.outputs(timeout=600)
    first_uploads = app.emulator.registry_uploads(mark)
    first_layers = app.emulator.image_layers(first["image"])
    dependency = max(first_layers, key=first_layers.__getitem__)
    assert first_layers[dependency] >= 100_000_000
    assert dependency in {upload.digest for upload in first_uploads}
    assert app.score(first).json()["color"] == served_code("1")

    change_code(server, "2")
    app.commit("a code-only change")
    mark = app.emulator.registry_mark()
    second = app.outputs(env=fresh_runner.environ(), timeout=600)
    _assert_only_the_changed_layer(app, first, second, app.emulator.registry_uploads(mark))


def _fresh_checkout(folder: Path) -> None:
    """Every file's time set to now, as a new clone of the repository has them."""
    now = time.time()
    for path in folder.rglob("*"):
        os.utime(path, (now, now))


@pytest.mark.parametrize("variant", ["copy", "stages"])
def test_a_cache_written_on_a_fresh_runner_serves_the_next_fresh_runners(
    app: App, fresh_runner: Engine, variant: Variant
) -> None:
    """Three jobs, each on an empty engine: the second and the third each push only their code
    layer. The third reads a cache that the second wrote with steps served from the registry,
    the one an engine before Docker 27 wrote without those steps' layers (moby/buildkit#1992)."""
    server = write_server(app.root / "server", code_version="1", variant=variant)
    app.commit(f"a model server with a 104 MiB dependency layer ({variant})")
    before = app.outputs(env=fresh_runner.environ(), timeout=600)
    assert app.score(before).json()["color"] == served_code("1")
    registry = app.emulator["registry"]
    for code in ("2", "3"):
        change_code(server, code)
        app.commit(f"a code-only change ({code})")
        _fresh_checkout(server)
        with fresh_engine(preinstalled=[base_image()], registries=[registry]) as next_runner:
            mark = app.emulator.registry_mark()
            after = app.outputs(env=next_runner.environ(), timeout=600)
            uploads = app.emulator.registry_uploads(mark)
        _assert_only_the_changed_layer(app, before, after, uploads, code)
        before = after

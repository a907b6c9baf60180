"""A code-only change deployed from a fresh runner (a second, empty Docker engine): the build
takes its layers from the registry's cache, so the dependency layer (over 100 MB) is not pushed
again; only the changed code layer is. Asserted on the registry's own record of uploads."""

from __future__ import annotations

import pytest

from tools.engines import Engine
from tools.heavy_server import change_code, served_code, write_server
from tools.repo import App

pytestmark = pytest.mark.docker

# The code layer is a few kilobytes; a pushed image also uploads its config (a few kilobytes
# more, with the inline build cache in it) and its manifest. Anything near a megabyte means a
# layer of the dependencies went up again.
SMALL_BYTES = 1_000_000


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
    uploads = app.emulator.registry_uploads(mark)

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
    assert app.score(second).json()["color"] == served_code("2")

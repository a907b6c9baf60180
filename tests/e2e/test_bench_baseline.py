"""The benchmark's baseline must be a correct deploy (only naive), and its measurements right:
otherwise `make bench` compares the action with nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import baseline
from bench.measure import mutating_arm_calls, pushed_since, registry_blobs
from emulator.client import Emulator
from tools.images import base_image


def test_the_baseline_deploys_an_endpoint_that_answers_then_rolls_out_blue_green(
    emulator: Emulator, tmp_path: Path
) -> None:
    context = tmp_path / "credit-risk"
    shutil.copytree(baseline.EXAMPLE, context)
    since = emulator.last_request()

    first = baseline.deploy(
        emulator, "baseline", tag="one", base_image=base_image(), context=context
    )  # scores the endpoint itself, and raises unless it answers 200
    assert first.image.endswith("/credit-risk:one")
    assert mutating_arm_calls(emulator, since) >= 3  # endpoint, deployment, traffic

    server = context / "server" / "app.py"
    server.write_text(server.read_text() + "# a code-only change\n")
    blobs = registry_blobs(emulator)
    second = baseline.blue_green(
        emulator,
        "baseline",
        tag="two",
        base_image=base_image(),
        context=context,
        old="blue",
        new="green",
    )
    assert second.scoring_uri == first.scoring_uri
    endpoint = emulator.ml_client().online_endpoints.get("baseline")
    assert {k: v for k, v in endpoint.traffic.items() if v} == {"green": 100}
    names = [d.name for d in emulator.ml_client().online_deployments.list("baseline")]
    assert names == ["green"]

    pushed = pushed_since(emulator, blobs)
    assert pushed.layers == 1  # only the layer with the server's code
    assert pushed.layer_bytes == pushed.changed_layer_bytes > 0
    assert pushed.total_bytes > pushed.layer_bytes  # plus the image config and manifest

"""Which image a deploy runs: honest tags (`<short sha>-<hash of the build inputs>`), a prebuilt
image given with --image, and image.ref with placeholders, each resolved to a digest."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import App
from tools.checks import mutating_arm_calls
from tools.repo import SERVER_DEPLOY, git

TAG = re.compile(r"[0-9a-f]{7}-[0-9a-f]{8}")


def pushes_since(app: App, since: int) -> list[dict[str, object]]:
    return [e for e in app.emulator.requests_since(since, part="acr") if e["method"] == "PUT"]


def test_the_tag_changes_with_build_args_and_the_same_inputs_reuse_the_image(app: App) -> None:
    plain = app.outputs("--build-arg", "FLAVOR=plain")
    short_sha = git(app.root, "rev-parse", "HEAD")[:7]
    assert TAG.fullmatch(plain["image-tag"]) and plain["image-tag"].startswith(short_sha)
    assert plain["image"].endswith("@" + plain["digest"])
    assert app.score(plain).json()["flavor"] == "plain"

    # the same commit, other build args: another image, built, pushed and served
    spicy = app.outputs("--build-arg", "FLAVOR=spicy")
    assert spicy["image-tag"].startswith(short_sha) and spicy["image-tag"] != plain["image-tag"]
    assert spicy["digest"] != plain["digest"]
    assert spicy["deployment-name"] == "green"
    assert app.score(spicy).json()["flavor"] == "spicy"

    # the first inputs again: their image is found by its tag, neither built nor pushed
    since = app.emulator.last_request()
    again = app.deploy("--build-arg", "FLAVOR=plain")
    assert again.returncode == 0, again.stderr
    assert f":{plain['image-tag']} is already in the registry" in again.stderr
    assert "no build, no push" in again.stderr
    assert "Building" not in again.stderr and pushes_since(app, since) == []
    served = app.outputs("--build-arg", "FLAVOR=plain")
    assert served["digest"] == plain["digest"] and app.score(served).json()["flavor"] == "plain"


def test_a_prebuilt_image_deploys_with_no_build(app: App) -> None:
    built = app.outputs("--build-arg", "FLAVOR=spicy")
    app.server_deploy_file(color="two")  # a new commit: its own image would need a build
    since = app.emulator.last_request()
    result = app.deploy("--image", f"model-server:{built['image-tag']}")
    assert result.returncode == 0, result.stderr
    assert "image.build is ignored" in result.stderr
    assert "Building" not in result.stderr and "Pushing" not in result.stderr
    assert pushes_since(app, since) == []
    by_digest = app.outputs("--image", f"contosoml.azurecr.io/model-server@{built['digest']}")
    assert by_digest["digest"] == built["digest"] and by_digest["image-tag"] == ""
    answer = app.score(by_digest).json()
    assert answer["flavor"] == "spicy" and answer["color"] == "two"


def test_a_prebuilt_image_elsewhere_or_missing_is_refused_before_anything_changes(
    app: App,
) -> None:
    since = app.emulator.last_request()
    other = app.deploy("--image", "other.azurecr.io/model-server:v1")
    assert other.returncode == 2, other.stderr
    assert "is in the registry other.azurecr.io, not in the deploy file's registry" in other.stderr
    missing = app.deploy("--image", "model-server:v404")
    assert missing.returncode == 1, missing.stderr
    assert "the image model-server:v404 was not found in the registry" in missing.stderr
    cache = app.deploy("--image-tag", "buildcache-pr3")
    assert cache.returncode == 2, cache.stderr
    assert "the image tag 'buildcache-pr3' is a build cache's" in cache.stderr
    assert "Traceback" not in missing.stderr + other.stderr + cache.stderr
    assert mutating_arm_calls(app, since) == [] and app.endpoint("models") is None


BUILT_IMAGE = """\
image:
  registry: contosoml.azurecr.io
  repository: model-server
  build: {context: ., args: {MODE: serve}}
"""
# The test server's deploy file, its image a prebuilt one named by the commit's short sha.
PREBUILT = SERVER_DEPLOY.format(
    name="prebuilt",
    mode="serve",
    color="one",
    score_status=200,
    canary_steps="[50, 100]",
    step_wait=1,
    score_delay=0,
    fail_input="",
    rollout="",
    predict="",
).replace(BUILT_IMAGE, 'image: {ref: "contosoml.azurecr.io/model-server:{short_sha}"}\n')


def test_an_image_ref_with_short_sha_resolves_to_the_digest(app: App) -> None:
    assert "{short_sha}" in PREBUILT
    (app.root / "server" / "prebuilt.yml").write_text(PREBUILT)
    short_sha = app.commit("a deploy file of a prebuilt image")[:7]
    # an earlier step of the workflow builds and pushes model-server:<short sha>
    built = app.outputs("--image-tag", short_sha)
    assert built["image-tag"] == short_sha  # an explicit tag stays as given
    plan = app.run("plan", config="server/prebuilt.yml")
    assert plan.returncode == 0, plan.stderr
    assert f"model-server:{short_sha} is " in plan.stderr
    assert built["digest"] in plan.stderr
    since = app.emulator.last_request()
    deployed = app.outputs(config="server/prebuilt.yml")
    assert deployed["digest"] == built["digest"] and deployed["image-tag"] == short_sha
    assert pushes_since(app, since) == []
    assert app.score(deployed).status_code == 200
    assert json.loads(deployed["traffic"]) == {"blue": 100}


def test_a_missing_build_secret_is_refused_before_anything_changes(app: App) -> None:
    deploy_file = app.root / "server" / "deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text().replace(
            "  build: {context: ., args: {MODE: serve}}",
            "  build: {context: ., args: {MODE: serve}, secrets: {index: {env: INDEX_TOKEN}}}",
        )
    )
    app.commit("a build secret")
    since = app.emulator.last_request()
    result = app.deploy(env={"INDEX_TOKEN": ""})
    assert result.returncode == 1, result.stderr
    assert (
        "build secret 'index' reads the environment variable INDEX_TOKEN, which is not set"
        in result.stderr
    )
    assert "hint: set INDEX_TOKEN for this step" in result.stderr
    assert mutating_arm_calls(app, since) == [] and pushes_since(app, since) == []
    assert app.endpoint("models") is None

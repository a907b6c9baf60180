"""BuildKit's plain progress, read back from real builds (tests/unit/buildkit/), and the
failures translated into what the user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.image import build_failures
from deployer.image.progress import BuildProgress

RECORDED = Path(__file__).parent / "buildkit"
ENGINE = "20.10.24+dfsg1"


def read(name: str) -> tuple[BuildProgress, list[str]]:
    said: list[str] = []
    progress = BuildProgress(said.append)
    for line in (RECORDED / name).read_text().splitlines():
        progress.feed(line)
    return progress, said


def translate(name: str, dockerfile: str = "", secret_ids: tuple[str, ...] = ()) -> str:
    progress, _ = read(name)
    error = build_failures.translate(
        progress, dockerfile=dockerfile, engine_version=ENGINE, secret_ids=secret_ids
    )
    return error.diagnostics()


def test_one_line_per_dockerfile_step_with_its_time_parallel_stages_included() -> None:
    progress, said = read("multistage-built.txt")
    assert said == [
        line for line in said if line.startswith("[")
    ]  # no internal vertices, no FROM lines
    steps = [line.split("  (")[0] for line in said]
    assert sorted(steps) == sorted(
        [
            "[deps 2/2] RUN --mount=type=cache,target=/root/.cache echo building deps && sleep 0.2",
            "[assets 2/2] RUN echo assets > /a",
            "[stage-2 2/4] COPY --from=deps /etc/hostname /h",
            "[stage-2 3/4] COPY --from=assets /a /a",
            "[stage-2 4/4] COPY app.txt /app.txt",
        ]
    )
    assert all(line.endswith(" s)") for line in said)
    assert (progress.steps_built, progress.steps_cached) == (5, 0)
    assert progress.failed == []


def test_cached_steps_are_counted_and_said_as_cached() -> None:
    progress, said = read("multistage-cached.txt")
    assert (progress.steps_built, progress.steps_cached) == (1, 4)
    assert "[assets 2/2] RUN echo assets > /a  (cached)" in said
    assert said[-1].startswith("[stage-2 4/4] COPY app.txt /app.txt  (")


def test_a_failing_step_keeps_its_output_and_names_the_step() -> None:
    progress, _ = read("run-failed.txt")
    [failed] = progress.failed
    assert failed.output == ["missing weights.bin", "compiling the model"]
    message = translate("run-failed.txt")
    assert message.startswith(
        """the build step [2/2] RUN echo "compiling the model" && echo "missing weights.bin" >&2"""
    )
    assert "exit code: 7" in message
    assert "hint: the step's output is above" in message


@pytest.mark.parametrize(
    ("recorded", "feature"),
    [("copy-link", "COPY --link (syntax 1.4)"), ("heredoc", "here-documents (RUN <<EOF)")],
)
def test_syntax_newer_than_the_engine_names_the_engine_version_needed(
    recorded: str, feature: str
) -> None:
    dockerfile = (RECORDED / f"{recorded}.Dockerfile").read_text()
    message = translate(f"{recorded}.txt", dockerfile)
    assert f"the Dockerfile uses {feature}" in message
    assert f"Docker engine {ENGINE}" in message
    assert "Docker Engine 23.0 or newer" in message
    assert "# syntax=docker/dockerfile:1" in message


def test_a_plain_parse_error_is_not_blamed_on_the_engine() -> None:
    message = translate("heredoc.txt", "FROM scratch\nRUN true\nECHO hi\n")
    assert message.startswith("the Dockerfile does not parse: line 3: unknown instruction: ECHO")


def test_an_unreachable_frontend_names_the_syntax_line() -> None:
    dockerfile = (RECORDED / "syntax-unreachable.Dockerfile").read_text()
    message = translate("syntax-unreachable.txt", dockerfile)
    assert message.startswith(
        "the Dockerfile's `# syntax=docker/dockerfile:1` line names a Dockerfile frontend"
    )
    assert "no such host" in message
    assert "remove the line" in message


def test_a_secret_the_deploy_file_does_not_give() -> None:
    message = translate("secret-missing.txt", secret_ids=("index_token",))
    assert message.startswith(
        "a build step mounts the build secret 'other', which the deploy file does not give "
        "(image.build.secrets declares: index_token)"
    )


def test_a_copy_source_outside_the_context() -> None:
    message = translate("copy-missing.txt")
    assert message.startswith("a COPY or ADD source is not in the build context: /missing.txt")


def test_an_engine_without_a_default_bridge() -> None:
    message = translate("no-bridge.txt")
    assert "need the engine's default bridge network" in message
    assert "--build-network host or none" in message


@pytest.mark.parametrize(
    ("dockerfile", "directive"),
    [
        ("# syntax=docker/dockerfile:1\nFROM x\n", "docker/dockerfile:1"),
        ("# escape=`\n#syntax = example.com/frontend:2\nFROM x\n", "example.com/frontend:2"),
        ("FROM x\n# syntax=docker/dockerfile:1\n", None),  # after an instruction: a comment
        ("\n\n# syntax=a/b\nFROM x\n", "a/b"),
    ],
)
def test_the_syntax_directive_is_read_only_before_the_first_instruction(
    dockerfile: str, directive: str | None
) -> None:
    assert build_failures.syntax_directive(dockerfile) == directive


def test_a_cache_that_cannot_be_imported_is_said_and_the_build_goes_on() -> None:
    progress, said = read("cache-unreachable.txt")
    source = "127.0.0.1:9/none/x:buildcache"
    assert said[0] == f"importing the build cache from {source}"
    assert said[1].startswith(f"no build cache from {source} (failed to do request: Head")
    assert said[1].endswith("): building without it")
    assert progress.cache_sources == [] and progress.failed == []
    assert (progress.steps_built, progress.steps_cached) == (1, 0)


def test_a_loopback_registry_asked_over_plain_http_is_explained() -> None:
    # cache-plain-http.txt: an engine without an https:// insecure-registries entry for the
    # emulator's registry (TLS on 127.0.0.1) importing its cache (issue 26's "400 Bad Request").
    progress, said = read("cache-plain-http.txt")
    source = "127.0.0.1:48351/model-server:buildcache"
    assert said[1] == (
        f"no build cache from {source} (pulling from host 127.0.0.1:48351 failed with status "
        "code [manifests buildcache]: 400 Bad Request; the engine's BuildKit reached this "
        'loopback registry over plain HTTP: if it serves HTTPS, add "https://127.0.0.1:48351" '
        "to the engine's insecure-registries): building without it"
    )
    assert (progress.steps_built, progress.steps_cached) == (1, 0) and progress.failed == []


@pytest.mark.parametrize(
    ("recorded", "said", "hint"),
    [
        (
            "base-notfound.txt",
            "the base image 127.0.0.1:5999/team/python-base:3.11 could not be pulled from "
            "127.0.0.1:5999 (not found: ",
            "check the FROM line (and the build args it uses): 127.0.0.1:5999 has no image",
        ),
        (
            "base-denied.txt",
            "could not be pulled from 127.0.0.1:5998 (access denied: pulling from host "
            "127.0.0.1:5998 failed with status code [manifests 3.11]: 401 Unauthorized)",
            "sign the runner in to 127.0.0.1:5998 before this step",
        ),
        (
            "base-unreachable.txt",
            "could not be pulled from 127.0.0.1:1 (unreachable: failed to do request: ",
            "let the runner reach 127.0.0.1:1, or use a base image from a registry it can reach",
        ),
    ],
)
def test_a_base_image_that_cannot_be_pulled_is_named_with_the_reason(
    recorded: str, said: str, hint: str
) -> None:
    """Each recorded from a real build (tests/unit/buildkit/base-*.Dockerfile): a tag the
    registry does not have, a registry that wants credentials, nothing listening."""
    message = translate(recorded, (RECORDED / recorded.replace(".txt", ".Dockerfile")).read_text())
    assert said in message
    assert hint in message
    assert "does not parse" not in message


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("python:3.11-slim", "docker.io"),
        ("library/python:3.11", "docker.io"),
        ("mcr.microsoft.com/azureml/minimal-py312-inference:latest", "mcr.microsoft.com"),
        ("localhost/base:1", "localhost"),
        ("127.0.0.1:5000/base:1", "127.0.0.1:5000"),
    ],
)
def test_the_registry_of_a_base_image_is_read_as_docker_reads_references(
    image: str, registry: str
) -> None:
    assert build_failures.registry_of(image) == registry

"""Dockerfiles as people write them today, built with BuildKit through the CLI: cache and
secret mounts, parallel stages, build secrets that end up nowhere, and syntax the engine is too
old for ending in the engine version that builds it."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import tarfile
from pathlib import Path

import docker
import pytest

from tools.dockerfiles import modern
from tools.repo import App

SECRETS = """\
  build:
    context: .
    args: {MODE: serve}
    secrets:
      index_token: {env: INDEX_TOKEN}
      netrc: {file: .secrets/netrc}
"""


def engine_major() -> int:
    return int(str(docker.from_env().version()["Version"]).split(".")[0])


def modern_server(app: App) -> tuple[str, str, str]:
    """The test server behind the modern stages, with its two secrets; (token, netrc, sha)."""
    server = app.root / "server"
    (server / "Dockerfile").write_text(modern((server / "Dockerfile").read_text()))
    deploy = server / "deploy.yml"
    deploy.write_text(
        deploy.read_text().replace("  build: {context: ., args: {MODE: serve}}\n", SECRETS)
    )
    token, netrc = (
        f"tok-{secrets.token_hex(12)}",
        f"machine pypi login x password {secrets.token_hex(12)}",
    )
    (server / ".secrets").mkdir()
    (server / ".secrets" / "netrc").write_text(netrc)
    (server / ".gitignore").write_text(".secrets/\n")
    return token, netrc, app.commit("a modern Dockerfile")


def image_bytes(reference: str, folder: Path) -> bytes:
    """Everything `docker save` writes for the image: its config, manifest and every layer."""
    archive = folder / "image.tar"
    subprocess.run(["docker", "save", "-o", str(archive), reference], check=True, timeout=300)
    chunks: list[bytes] = []
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            chunks.append(data)
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    for entry in layer.getmembers():
                        if not entry.isfile():
                            continue
                        content = layer.extractfile(entry)
                        if content is not None:
                            chunks.append(content.read())
    return b"\n".join(chunks)


def test_a_modern_dockerfile_deploys_and_its_secrets_are_nowhere(app: App, tmp_path: Path) -> None:
    token, netrc, sha = modern_server(app)
    outputs = app.outputs(env={"INDEX_TOKEN": token})
    log = "\n".join(app.transcript.values())
    # One line per step, the stages in parallel, the secret-mounting step among them.
    assert "[deps 3/3] RUN --mount=type=secret,id=index_token,required=true" in log
    assert "[assets 2/2] RUN mkdir /assets" in log
    assert app.score(outputs).status_code == 200
    # The image the deployment runs, by digest: what the push left in the registry.
    reference = outputs["image"]
    inspect = run_docker("image", "inspect", reference)
    history = run_docker("history", "--no-trunc", reference)
    content = image_bytes(reference, tmp_path)
    assert b"secrets were mounted" in content  # the step ran with both secrets
    for secret in (token, netrc):
        assert secret not in log
        assert secret not in inspect
        assert secret not in history
        assert secret.encode() not in content
    labels = json.loads(inspect)[0]["Config"]["Labels"]
    assert labels["org.opencontainers.image.revision"] == sha


def test_a_failing_step_that_prints_a_build_secret_shows_it_masked(app: App) -> None:
    token, _, _ = modern_server(app)
    dockerfile = app.root / "server" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("&& test -s /run/secrets/netrc", "&& false")
    )
    app.commit("the secret step fails after printing the token")
    result = app.deploy(env={"INDEX_TOKEN": token})
    assert result.returncode == 1, result.stderr
    assert "index token: ***" in result.stderr  # the failing step's output, masked
    assert token not in result.stdout + result.stderr


def run_docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.mark.parametrize(
    ("feature", "instruction"),
    [
        ("COPY --link (syntax 1.4)", "COPY --link server.py /app/server.py"),
        ("here-documents (RUN <<EOF)", "RUN <<EOF\necho built with a heredoc\nEOF"),
    ],
)
def test_syntax_newer_than_the_engine_builds_or_names_the_engine_it_needs(
    app: App, feature: str, instruction: str
) -> None:
    dockerfile = app.root / "server" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("COPY server.py /app/server.py", instruction)
        + ("COPY server.py /app/server.py\n" if "RUN" in instruction else "")
    )
    app.commit(f"a Dockerfile with {feature}")
    result = app.deploy()
    if engine_major() >= 23:  # its built-in frontend has syntax 1.4
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1, result.stderr
    assert f"the Dockerfile uses {feature}" in result.stderr
    assert "Docker Engine 23.0 or newer" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert app.endpoint("models") is None or app.endpoint("models")["deployments"] == []


def test_a_syntax_line_naming_a_frontend_the_engine_cannot_pull(app: App) -> None:
    registry = app.emulator.connection["registry"]
    dockerfile = app.root / "server" / "Dockerfile"
    directive = f"# syntax={registry}/frontends/dockerfile:1"
    dockerfile.write_text(f"{directive}\n{dockerfile.read_text()}")
    app.commit("a frontend that is not there")
    result = app.deploy()
    assert result.returncode == 1, result.stderr
    assert f"the Dockerfile's `{directive}` line names a Dockerfile frontend" in result.stderr
    assert "remove the line" in result.stderr


def test_a_step_mounting_a_secret_the_deploy_file_does_not_give(app: App) -> None:
    dockerfile = app.root / "server" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "COPY server.py",
            "RUN --mount=type=secret,id=hf_token,required=true true\nCOPY server.py",
        )
    )
    app.commit("a secret nobody gives")
    result = app.deploy()
    assert result.returncode == 1, result.stderr
    assert (
        "mounts the build secret 'hf_token', which the deploy file does not give" in result.stderr
    )
    assert "image.build.secrets: {hf_token: {env: NAME}}" in result.stderr

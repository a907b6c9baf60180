"""Public images by reference (issue 30): Docker's name rules, and the registry token flow
(docs.docker.com registry/spec/auth/token) against an in-memory registry served over real HTTPS
on 127.0.0.1 — requests is not mocked."""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from deployer.cloud import PUBLIC, Cloud, LocalConnection
from deployer.errors import ImageError
from deployer.image.public import PublicRegistry, bearer_challenge
from deployer.image.reference import ImageName, parse_image
from emulator.tls import ensure_tls

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})
DIGEST = "sha256:" + hashlib.sha256(MANIFEST.encode()).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu:22.04", ImageName("docker.io", "library/ubuntu", "22.04", None)),
        ("docker.io/ubuntu:22.04", ImageName("docker.io", "library/ubuntu", "22.04", None)),
        ("index.docker.io/ubuntu:1", ImageName("docker.io", "library/ubuntu", "1", None)),
        ("registry-1.docker.io/x/y:1", ImageName("docker.io", "x/y", "1", None)),
        ("tensorflow/serving:latest", ImageName("docker.io", "tensorflow/serving", "latest", None)),
        (
            f"mcr.microsoft.com/azureml/minimal:latest@{DIGEST}",
            ImageName("mcr.microsoft.com", "azureml/minimal", "latest", DIGEST),
        ),
        ("ghcr.io/octo/app@" + DIGEST, ImageName("ghcr.io", "octo/app", None, DIGEST)),
        ("localhost/app:1", ImageName("localhost", "app", "1", None)),
        ("127.0.0.1:5000/app:1", ImageName("127.0.0.1:5000", "app", "1", None)),
    ],
)
def test_names_normalise_as_docker_does(text: str, expected: ImageName) -> None:
    name = parse_image(text)
    assert name == expected
    assert name.api_host == (
        "registry-1.docker.io" if name.registry == "docker.io" else name.registry
    )
    assert name.reference == (expected.digest or expected.tag)


def test_a_bearer_challenge_is_read_and_others_are_not() -> None:
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
    assert bearer_challenge(header) == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
    }
    assert bearer_challenge('Basic realm="x"') is None


def test_the_cloud_tells_acr_from_public_registries_and_maps_them_locally() -> None:
    cloud = PUBLIC["AzureCloud"]
    assert cloud.is_container_registry("contosoml.azurecr.io")
    assert not cloud.is_container_registry("docker.io")
    assert not PUBLIC["AzureChinaCloud"].is_container_registry("contosoml.azurecr.io")
    assert cloud.registry_for("docker.io", acr=False) == "docker.io"
    local = Cloud(
        "local",
        "https://127.0.0.1:1",
        "https://127.0.0.1:2",
        "https://127.0.0.1:3",
        local=LocalConnection(
            "s", "g", "w", "t", "c", "127.0.0.1:5000", "u", "t", public_registry="127.0.0.1:5001"
        ),
    )
    assert local.is_container_registry("127.0.0.1:5000")
    assert not local.is_container_registry("127.0.0.1:5001")
    assert local.registry_for("contosoml.azurecr.io") == "127.0.0.1:5000"
    assert local.registry_for("docker.io", acr=False) == "127.0.0.1:5001"


@dataclass
class FakeRegistry:
    """What the in-memory registry does: its manifests, which repositories are private and how
    it says so, and its quirks."""

    manifests: dict[tuple[str, str], str] = field(default_factory=dict)
    private: set[str] = field(default_factory=set)
    auth: str = "bearer"  # bearer | open | broken (GET /v2/ answers 404)
    private_token_status: int = 200  # Docker Hub: 200 with no access; others refuse: 401/403
    digest_header: bool = True
    manifest_status: int | None = None  # e.g. 429
    realm_scheme: str = "https"
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeRegistry, str, str]]:
    """The fake registry on HTTPS at 127.0.0.1: (its state, host:port, CA file)."""
    tls = ensure_tls(tmp_path / "tls")
    state = FakeRegistry(manifests={("library/app", "v1"): MANIFEST})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            url = urlsplit(self.path)
            auth = self.headers.get("Authorization", "")
            state.requests.append((self.command, url.path, auth))
            host = f"127.0.0.1:{self.server.server_address[1]}"
            if url.path == "/v2/":
                if state.auth == "open":
                    return self._send(200, b"{}", body)
                if state.auth == "broken":
                    return self._send(404, b"", body)
                realm = f"{state.realm_scheme}://{host}/token"
                challenge = f'Bearer realm="{realm}",service="{host}"'
                return self._send(401, b"", body, {"WWW-Authenticate": challenge})
            if url.path == "/token":
                query = parse_qs(url.query)
                assert query["service"] == [host]
                repository = query["scope"][0].split(":")[1]
                if repository in state.private and state.private_token_status != 200:
                    return self._send(state.private_token_status, b"{}", body)
                granted = "none" if repository in state.private else repository
                token = json.dumps({"token": f"anon-{granted}"}).encode()
                return self._send(200, token, body)
            _, _, rest = url.path.partition("/v2/")
            repository, _, reference = rest.rpartition("/manifests/")
            if state.auth == "bearer" and auth != f"Bearer anon-{repository}":
                return self._send(401, b"", body)
            if state.manifest_status is not None:
                return self._send(state.manifest_status, b"", body)
            assert "application/vnd.oci.image.index.v1+json" in self.headers["Accept"]
            manifest = state.manifests.get((repository, reference))
            if manifest is None and reference == DIGEST:
                manifest = next(iter(state.manifests.values()))
            if manifest is None:
                return self._send(404, b"", body)
            headers = {"Docker-Content-Digest": DIGEST} if state.digest_header else {}
            return self._send(200, manifest.encode(), body, headers)

        def _send(
            self, status: int, payload: bytes, body: bool, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"127.0.0.1:{server.server_address[1]}", str(tls.ca_cert)
    server.shutdown()
    server.server_close()


class Masks:
    def __init__(self) -> None:
        self.masked: list[str] = []

    def mask(self, secret: str | None) -> None:
        if secret:
            self.masked.append(secret)


def registry(served: tuple[FakeRegistry, str, str]) -> tuple[PublicRegistry, Masks]:
    _, host, ca = served
    masks = Masks()
    return PublicRegistry(host, masks, verify=ca), masks  # type: ignore[arg-type]


def test_a_tag_is_resolved_by_the_anonymous_token_flow(
    served: tuple[FakeRegistry, str, str],
) -> None:
    state = served[0]
    client, masks = registry(served)
    assert client.digest_of("library/app", "v1", "image.ref app:v1") == DIGEST
    assert [(method, path) for method, path, _ in state.requests] == [
        ("GET", "/v2/"),
        ("GET", "/token"),
        ("HEAD", "/v2/library/app/manifests/v1"),
    ]
    assert state.requests[1][2] == ""  # no credentials to the token service
    assert masks.masked == ["anon-library/app"]
    # a digest is checked against what the registry answers for it
    assert client.digest_of("library/app", DIGEST, "image.ref app@…") == DIGEST


def test_an_open_registry_and_one_without_the_digest_header(
    served: tuple[FakeRegistry, str, str],
) -> None:
    state = served[0]
    state.auth, state.digest_header = "open", False
    client, masks = registry(served)
    assert client.digest_of("library/app", "v1", "image.ref app:v1") == DIGEST
    assert masks.masked == []
    assert [method for method, _, _ in state.requests] == ["GET", "HEAD", "GET"]


@pytest.mark.parametrize("token_status", [200, 401, 403])
def test_a_private_repository_is_refused_with_the_fix(
    served: tuple[FakeRegistry, str, str], token_status: int
) -> None:
    state = served[0]
    state.private, state.private_token_status = {"octo/secret"}, token_status
    state.manifests[("octo/secret", "v1")] = MANIFEST
    client, _ = registry(served)
    with pytest.raises(ImageError) as caught:
        client.digest_of("octo/secret", "v1", "image.ref octo/secret:v1")
    why = "its manifest answered HTTP 401" if token_status == 200 else f"HTTP {token_status}"
    assert why in caught.value.message
    assert caught.value.message.startswith(
        f"image.ref octo/secret:v1 cannot be read anonymously from the registry {served[1]}"
    )
    assert "az acr import" in (caught.value.hint or "")


def test_a_missing_tag_a_limit_and_a_registry_that_is_none(
    served: tuple[FakeRegistry, str, str],
) -> None:
    state = served[0]
    client, _ = registry(served)
    with pytest.raises(ImageError, match="library/app has no tag v404"):
        client.digest_of("library/app", "v404", "image.ref app:v404")
    state.manifest_status = 429
    with pytest.raises(ImageError, match=r"limiting this runner's requests \(HTTP 429\)"):
        client.digest_of("library/app", "v1", "image.ref app:v1")
    state.auth = "broken"
    with pytest.raises(ImageError, match=r"does not answer as a container registry"):
        registry(served)[0].digest_of("library/app", "v1", "image.ref app:v1")


def test_a_realm_that_is_not_https_is_refused(served: tuple[FakeRegistry, str, str]) -> None:
    served[0].realm_scheme = "http"
    with pytest.raises(ImageError, match="realm that is not HTTPS"):
        registry(served)[0].digest_of("library/app", "v1", "image.ref app:v1")


def test_an_unreachable_registry_says_so(tmp_path: Path) -> None:
    client = PublicRegistry("127.0.0.1:9", Masks(), verify=True)  # type: ignore[arg-type]
    with pytest.raises(ImageError) as caught:
        client.digest_of("library/app", "v1", "image.ref app:v1")
    assert caught.value.message == (
        "image.ref app:v1: cannot reach the registry 127.0.0.1:9 (ConnectionError)"
    )
    assert "https://127.0.0.1:9" in (caught.value.hint or "")

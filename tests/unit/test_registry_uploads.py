"""The registry's record of uploads (emulator/uploads.py), read from an access log and blob
store laid out as distribution writes them."""

from __future__ import annotations

from pathlib import Path

from emulator.uploads import log_mark, uploads_since

AGENT = '"" "docker/20.10.24"'
LAYER = "sha256:" + "a" * 64
CONFIG = "sha256:" + "b" * 64


def _blob(state: Path, digest: str, size: int) -> None:
    hex_digest = digest.removeprefix("sha256:")
    path = state / "registry/data/docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest
    path.mkdir(parents=True)
    (path / "data").write_bytes(b"x" * size)


def _line(request: str, status: int) -> str:
    return f'127.0.0.1 - - [02/Dec/2026:03:59:31 +0000] "{request} HTTP/1.1" {status} 0 {AGENT}\n'


def test_completed_uploads_after_the_mark_are_counted_with_their_size(tmp_path: Path) -> None:
    _blob(tmp_path, LAYER, 300)
    _blob(tmp_path, CONFIG, 20)
    log = tmp_path / "registry.log"
    log.write_text(_line(f"PUT /v2/app/blobs/uploads/1?_state=x&digest={LAYER}", 201))
    mark = log_mark(tmp_path)
    with log.open("a") as out:
        out.write(_line(f"HEAD /v2/app/blobs/{LAYER}", 200))  # found: not uploaded
        out.write(_line("POST /v2/app/blobs/uploads/", 202))
        out.write(_line("PATCH /v2/app/blobs/uploads/2?_state=y", 202))
        out.write(_line(f"PUT /v2/team/app/blobs/uploads/2?_state=y&digest={LAYER}", 201))
        out.write(_line(f"POST /v2/app/blobs/uploads/?mount={CONFIG}&from=other", 201))
        out.write(_line(f"PUT /v2/app/blobs/uploads/3?digest={CONFIG}", 400))  # refused
        out.write(_line(f"POST /v2/app/blobs/uploads/?digest={CONFIG.replace(':', '%3A')}", 201))

    uploads = uploads_since(tmp_path, mark, settle=0.01)

    assert [(u.repository, u.digest, u.size) for u in uploads] == [
        ("team/app", LAYER, 300),
        ("app", CONFIG, 20),
    ]
    assert len(uploads_since(tmp_path, 0, settle=0.01)) == 3


def test_no_log_no_uploads(tmp_path: Path) -> None:
    assert log_mark(tmp_path) == 0
    assert uploads_since(tmp_path, 0, settle=0.01) == []

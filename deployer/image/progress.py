"""BuildKit's `--progress=plain` output, read as it streams: one line per Dockerfile step when it
ends (built, with its time, or cached), and every line a step printed, kept for the failing one.

The plain format is BuildKit's progressui: `#<n> <vertex name>` starts a vertex, then lines
`#<n> <seconds> <output>`, `#<n> DONE <t>s`, `#<n> CACHED` or `#<n> ERROR: <message>`; what the
client prints after the last vertex is the build's own error. Vertices of parallel stages
interleave, so everything is kept per vertex number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_VERTEX_LINE = re.compile(r"^#(\d+) (.*)$")
_OUTPUT = re.compile(r"^\d+\.\d+ ?(.*)$")
_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_STEP = re.compile(r"^\[[^\]]*\d+/\d+\] ")  # "[builder 2/4] RUN …" or "[2/4] COPY …"
_FROM = re.compile(r"^\[[^\]]*\] FROM ")
_IMPORT = re.compile(r"^importing cache manifest from (\S+)")
# BuildKit asks a registry on a loopback address over plain HTTP unless the engine's config
# lists it as `https://host:port` under insecure-registries (containerd's resolver defaults,
# moby's daemon.RegistryHosts). A TLS registry then answers as Go's HTTPS server answers any
# plain-HTTP request: "400 Bad Request", before the registry itself sees it.
_LOOPBACK = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?::\d+)?/")
_PLAIN_HTTP_HINT = (
    "; the engine's BuildKit reached this loopback registry over plain HTTP: if it serves "
    'HTTPS, add "https://{host}" to the engine\'s insecure-registries'
)
MAX_KEPT_LINES = 400  # of a failing step's output: the end is what explains the failure
MAX_NAME = 160


@dataclass
class Vertex:
    name: str
    output: list[str] = field(default_factory=list)
    seconds: float | None = None
    cached: bool = False
    error: str | None = None

    @property
    def cache_source(self) -> str | None:
        """The registry reference of a cache import (a vertex of its own)."""
        match = _IMPORT.match(self.name)
        return match.group(1) if match else None

    @property
    def is_step(self) -> bool:
        return bool(_STEP.match(self.name)) and not _FROM.match(self.name)


def _hint(source: str | None, error: str) -> str:
    if source is None or "400 Bad Request" not in error or not _LOOPBACK.match(source):
        return ""
    return _PLAIN_HTTP_HINT.format(host=source.split("/", 1)[0])


@dataclass
class BuildProgress:
    """Feed it the CLI's lines; `say` gets the lines worth showing."""

    say: Callable[[str], None]
    vertices: dict[int, Vertex] = field(default_factory=dict)
    trailer: list[str] = field(default_factory=list)  # after the vertices: the build's error
    cache_sources: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        match = _VERTEX_LINE.match(line)
        if match is None:
            if line.strip():
                self.trailer.append(line)
            return
        number, rest = int(match.group(1)), match.group(2)
        vertex = self.vertices.get(number)
        if vertex is None:
            vertex = self.vertices[number] = Vertex(rest[:MAX_NAME])
            source = vertex.cache_source
            if source is not None and source not in self.cache_sources:
                self.cache_sources.append(source)
                self.say(f"importing the build cache from {source}")
            return
        self._update(vertex, rest)

    def _update(self, vertex: Vertex, rest: str) -> None:
        done = _DONE.match(rest)
        if done:
            vertex.seconds = float(done.group(1))
            if vertex.is_step:
                self.say(f"{vertex.name}  ({vertex.seconds:.1f} s)")
        elif rest == "CACHED":
            vertex.cached = True
            if vertex.is_step:
                self.say(f"{vertex.name}  (cached)")
        elif rest.startswith("ERROR:"):
            vertex.error = rest.removeprefix("ERROR:").strip()
            source = vertex.cache_source
            if source in self.cache_sources:  # BuildKit goes on without it
                self.cache_sources.remove(source)
                self.say(
                    f"no build cache from {source} ({vertex.error}{_hint(source, vertex.error)})"
                    ": building without it"
                )
        elif rest.startswith("sha256:"):
            return
        else:
            output = _OUTPUT.match(rest)
            vertex.output.append(output.group(1) if output else rest)
            del vertex.output[:-MAX_KEPT_LINES]

    @property
    def failed(self) -> list[Vertex]:
        return [
            vertex
            for vertex in self.vertices.values()
            if vertex.error is not None and vertex.cache_source is None
        ]

    @property
    def steps_built(self) -> int:
        return sum(
            1
            for v in self.vertices.values()
            if v.is_step and not v.cached and v.seconds is not None
        )

    @property
    def steps_cached(self) -> int:
        return sum(1 for v in self.vertices.values() if v.is_step and v.cached)

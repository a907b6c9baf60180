"""Host-style scoring URIs, where this machine can resolve them.

Azure's scoring URIs name the endpoint in the host: `https://<endpoint>.<region>.inference.
ml.azure.com/score` (every endpoint GET in the azure-ai-ml recordings). The emulator cannot
answer for ml.azure.com, but names under `localhost.` are loopback by RFC 6761, and many
resolvers (systemd-resolved, nss-myhostname, macOS) answer so for every subdomain; glibc with
only `files dns` in nsswitch.conf does not. So the emulator gives
`https://<endpoint>.<region>.inference.localhost:<port>/score` where such a name resolves to
loopback, and the path style `https://127.0.0.1:<port>/<endpoint>/score` elsewhere
(emulator/README.md, "Differences from Azure"). The gateway answers both either way.
"""

from __future__ import annotations

import ipaddress
import socket

TOP = "inference.localhost"


def suffix(region: str) -> str:
    """The part of a scoring host after the endpoint's name."""
    return f"{region}.{TOP}"


def resolves_to_loopback(name: str) -> bool:
    try:
        answers = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(answers) and all(
        ipaddress.ip_address(str(answer[4][0])).is_loopback for answer in answers
    )


def host_style(region: str) -> bool:
    """Whether scoring hosts under `suffix(region)` reach this machine."""
    return resolves_to_loopback(f"probe.{suffix(region)}")


def endpoint_in_host(host: str, region: str) -> str | None:
    """The endpoint a host-style Host header names (`<endpoint>.<region>.inference.localhost`,
    any port), or None."""
    hostname = host.partition(":")[0]  # the gateway listens on IPv4 only: no [::1] hosts
    name, _, rest = hostname.partition(".")
    return name.lower() if name and rest.lower() == suffix(region).lower() else None

"""RSA signing keys and JWTs, as Entra ID and GitHub's OIDC issuer use them."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    """One RS256 key with a key id, published as a JWK."""

    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims,
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        thumbprint = hashlib.sha1(  # noqa: S324 - x5t is defined as a SHA-1 thumbprint
            json.dumps({"kid": self.kid}).encode()
        ).digest()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "x5t": base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode("ascii"),
        }

    def verify(
        self, token: str, *, audience: str | list[str] | None = None, leeway: float = 0
    ) -> dict[str, Any]:
        """Claims of a token this key signed; raises jwt.InvalidTokenError otherwise."""
        options = {"verify_aud": audience is not None, "require": ["exp", "iat"]}
        claims: dict[str, Any] = jwt.decode(
            token,
            self.private_key.public_key(),
            algorithms=["RS256"],
            audience=audience,
            options=options,  # type: ignore[arg-type]
            leeway=leeway,
        )
        return claims


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims without checking anything; raises jwt.DecodeError when malformed."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    return header, claims

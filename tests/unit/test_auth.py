"""Entra ID's refusals, explained with the exact fix."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError

from deployer.auth import AssertionSource, explain


def refusal(code: str) -> ClientAuthenticationError:
    return ClientAuthenticationError(message=f"Authentication failed: AADSTS{code}: something")


def source(claims: dict[str, str]) -> AssertionSource:
    found = AssertionSource(lambda: "")
    found.last_claims = claims
    return found


def test_no_matching_federated_credential_names_the_subject_to_add() -> None:
    claims = {"sub": "repo:o/r:environment:staging", "iss": "https://issuer", "aud": "api://A"}
    error = explain(refusal("70021"), source(claims))
    assert "subject 'repo:o/r:environment:staging'" in error.message
    assert error.hint is not None
    assert "subject 'repo:o/r:environment:staging', issuer 'https://issuer'" in error.hint
    assert '"subject":"repo:o/r:environment:staging"' in error.hint


def test_expired_assertion() -> None:
    error = explain(refusal("700024"), None)
    assert "expired" in error.message and "AADSTS700024" in error.message
    assert error.hint is not None and "5 minutes" in error.hint


def test_unknown_client_and_tenant() -> None:
    assert "client-id" in (explain(refusal("700016"), None).hint or "")
    assert "tenant-id" in (explain(refusal("90002"), None).hint or "")


def test_anything_else_keeps_the_first_line() -> None:
    error = explain(ClientAuthenticationError(message="boom\nmore"), None)
    assert error.message == "signing in to Azure failed: boom"

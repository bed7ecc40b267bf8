"""The bearer-token check of the admin routes (node and load balancer)."""

from __future__ import annotations

import hmac


def admin_refusal(supplied: str, token: str, where: str) -> str | None:
    """Why an admin request is refused (401), or None when its bearer token matches.

    ``supplied`` is the Authorization header ('' when absent); ``where`` names the
    setting that holds the token, so a server started without one says so instead
    of asking for a token that no value can satisfy.
    """
    if not token:
        return f"admin routes are off: no admin token is configured ({where})"
    if hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
        return None
    if not supplied:
        return "admin token required (Authorization: Bearer <token>)"
    return "admin token does not match (Authorization: Bearer <token>)"

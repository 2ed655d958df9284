"""The one rule every evalwheel server follows before it binds: loopback is open, anything else needs a token.

Shared by `evalwheel serve`, `evalwheel monitor serve` and `evalwheel study-web`, so the three servers cannot
drift apart on what counts as loopback or on what they refuse. Stdlib only: the CLIs call it before they import
FastAPI or uvicorn.
"""

from __future__ import annotations

import ipaddress


class BindRefused(ValueError):
    """Serving beyond loopback without a token (the CLIs exit 2 with the message)."""


def is_loopback(host: str) -> bool:
    """True for `localhost`, the empty host and any loopback address (127.0.0.0/8, ::1, [::1])."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, *, token_source: str) -> None:
    """Refuse a non-loopback `host` without a token; `token_source` says where a token can come from."""
    if not is_loopback(host) and not token:
        raise BindRefused(
            f"--host {host} is not loopback: refusing to serve without a token ({token_source}); "
            "every request must then send `Authorization: Bearer <token>`"
        )

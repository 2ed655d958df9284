"""Who may see the workspace, and proof that a form was posted from it.

- **Tokens.** Served on loopback without a token, the pages are open to the local user (reviewing still
  needs a reviewer token, to know who labelled). With a server token (mandatory off loopback), every
  request must carry the server token or a reviewer's token: as `Authorization: Bearer ...` or the
  `ew_token` cookie set by the login form. Anything else gets 401 and the login form.
- **CSRF.** Double-submit: a random `ew_csrf` cookie (SameSite=Strict, so another site's page never
  sends it) must equal the `csrf` form field or `X-CSRF-Token` header of every state-changing request.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

TOKEN_COOKIE = "ew_token"
CSRF_COOKIE = "ew_csrf"
OPEN_PATHS = ("/login",)


@dataclass(frozen=True)
class Identity:
    """Who is asking: `admin` holds the server token; `reviewer` is set for a reviewer's token."""

    authenticated: bool
    admin: bool = False
    reviewer: str | None = None


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(TOKEN_COOKIE) or None


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def csrf_valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = submitted or request.headers.get("x-csrf-token")
    return bool(cookie and sent and same_secret(cookie, sent))


class AuthMiddleware(BaseHTTPMiddleware):
    """Resolve the caller's identity once per request; refuse (401) when a token is required and missing.

    `reviewer_lookup` maps a token to a reviewer name (or None)."""

    def __init__(self, app: object, *, server_token: str | None, reviewer_lookup: object) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.server_token = server_token
        self.lookup = reviewer_lookup

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        token = request_token(request)
        identity = Identity(authenticated=self.server_token is None)
        if token:
            if self.server_token is not None and same_secret(token, self.server_token):
                identity = Identity(authenticated=True, admin=True)
            else:
                name = self.lookup(token)  # type: ignore[operator]
                if name is not None:
                    identity = Identity(authenticated=True, reviewer=str(name))
        request.state.identity = identity
        request.state.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        if not identity.authenticated and request.url.path not in OPEN_PATHS:  # exact: not /login-anything
            from evalwheel.web.render import unauthorized

            response: Response = unauthorized(request)
        else:
            response = await call_next(request)
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
        return response

"""The one rule every evalwheel server follows before it binds: loopback is open, anything else needs a token.

Shared by `evalwheel serve`, `evalwheel monitor serve` and `evalwheel study-web`, so the three servers cannot
drift apart on what counts as loopback or on what they refuse. Stdlib only: the CLIs call it before they import
FastAPI or uvicorn. `listen` then binds the address before anything is served and `serve` runs uvicorn on it.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


class BindRefused(ValueError):
    """Serving beyond loopback without a token, or on an address that cannot be bound (the CLIs exit 2)."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and any loopback address (127.0.0.0/8, ::1, [::1]).

    The empty host is not loopback: uvicorn (asyncio's create_server) binds `--host ''` to every interface,
    IPv4 and IPv6, so it needs a token like 0.0.0.0 does.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, *, token_source: str) -> None:
    """Refuse a non-loopback `host` without a token; `token_source` says where a token can come from."""
    if not is_loopback(host) and not (token and token.strip()):  # a blank token is no token
        raise BindRefused(
            f"--host {host or repr(host)} is not loopback: refusing to serve without a token ({token_source}); "
            "every request must then send `Authorization: Bearer <token>`"
        )


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` (port 0: a free one, see `sock.getsockname()`), for `serve`.

    Why bind here rather than in uvicorn: uvicorn logs a busy port or an unknown host and exits 1 or 3 after the
    banner ("on http://127.0.0.1:8765") was printed, and `--port 0` printed port 0. Bound first, either is one
    BindRefused naming the address and the cause (exit 2), and the banner shows the port actually bound.
    """
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:  # socket.gaierror: an unknown host name
        raise BindRefused(f"--host {host or repr(host)}: cannot resolve it ({exc.strerror or exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart may reuse TIME_WAIT
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise BindRefused(f"cannot listen on {host or repr(host)}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(app: Any, sock: socket.socket, **config: Any) -> None:
    """Run `app` under uvicorn on the socket from `listen` (`config`: more uvicorn.Config options).

    The stores and caches the process opened are closed when the server has shut down, not only at exit: on
    SIGTERM uvicorn re-raises the signal after its graceful shutdown, and the process then dies before any
    exit hook (evalwheel.closing) runs, which left SQLite's -wal / -shm files beside every store it served."""
    import uvicorn

    from evalwheel.closing import close_all

    class ClosingServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            try:
                await super().shutdown(sockets)
            finally:
                close_all()

    host, port = sock.getsockname()[:2]
    server = ClosingServer(uvicorn.Config(app, host=host, port=port, log_level="warning", **config))
    server.run(sockets=[sock])

"""What a process still holds open is closed explicitly at exit, so the CLI can skip the final garbage collection.

Why: when a command returns, the interpreter's finalization runs the cyclic garbage collector over every object
the imports created (typer, rich, pydantic, aiohttp, SQLAlchemy and their schemas). On a 2-vCPU machine that
was 0.15-0.25 s of wall and CPU after the last result of a 500-sample run had been written, about a sixth of
the framework's time over the raw-HTTP floor (issue 15). `freeze_heap_at_exit` moves the heap out of the
collector's reach once the command is done, which skips that pass. Objects kept alive by reference cycles are
then never finalized, so a SQLite connection held by one would stay open and leave its write-ahead log beside
the file instead of folding it back in; committed data is safe either way (WAL mode), but a store copied
without its `-wal` file would miss rows. Every store and cache therefore registers here when it opens a
connection and is closed explicitly by `close_all`, an atexit hook, whatever the collector does.
"""

from __future__ import annotations

import atexit
import gc
import weakref
from typing import Protocol


class Closable(Protocol):
    def close(self) -> None: ...


_open: weakref.WeakSet[Closable] = weakref.WeakSet()
_freeze_registered = False


def track(resource: Closable) -> None:
    """Close `resource` at interpreter exit if it is still open then (its own `close` should `untrack` it)."""
    _open.add(resource)


def untrack(resource: Closable) -> None:
    _open.discard(resource)


def close_all() -> None:
    """Close every tracked resource that is still open (atexit; errors are ignored: the process is ending)."""
    for resource in list(_open):
        try:
            resource.close()
        except Exception:  # best effort at exit: one failing close must not skip the others
            continue
    _open.clear()


def freeze_heap_at_exit() -> None:
    """Skip the interpreter's final collection (see the module docstring). For processes that are about to end
    anyway (a CLI command); a library must not call this, and it changes nothing before exit."""
    global _freeze_registered
    if not _freeze_registered:
        _freeze_registered = True
        atexit.register(gc.freeze)


atexit.register(close_all)

"""One process at a time per run: a lease (owner, heartbeat, expiry) on the run's row in the store.

Two `--resume` of the same run at once would both call the models for the same samples and the second
commit would hit the (run, sample, epoch) unique key. So a run is leased to the process executing it: the
row records the owner (`host:pid:token`), the last heartbeat and an expiry `ttl_s` ahead; a heartbeat task
pushes the expiry on every `heartbeat_s`. Another process that tries to execute the run gets
`RunLeasedError` (exit code 2) naming the owner and when the lease expires.

A crashed owner stops renewing, so its lease expires and can be taken over. On the same host a dead owner
is recognised at once (its pid no longer exists), so `kill -9` then `--resume` works immediately; an owner
on another host is only known dead once its lease has expired (`ttl_s`, 60 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from evalwheel.runs.writer import RunStoppedError
from evalwheel.store.errors import StoreError

if TYPE_CHECKING:
    from evalwheel.store import Store

LEASE_TTL_S = 60.0
HEARTBEAT_S = 15.0
_HELD: set[str] = set()  # owners of the leases this process holds right now


class RunLeasedError(StoreError):
    """Another live process holds the run's lease (bad input: exit code 2)."""


class LeaseLostError(RunStoppedError):
    """Our lease expired (heartbeats failed) and another process took the run over: this one stops (exit 3)."""


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True only when the owner ran on this host and its process no longer exists."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return owner not in _HELD  # this process: dead unless one of our runs still holds it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by another user
    return False


def _describe(store: Store, run_id: str) -> str:
    owner, expires, beat = store.lease_of(run_id)
    now = time.time()
    host, pid = [*(owner or "?:?").rsplit(":", 2), "?", "?"][:2]
    parts = [f"host {host} pid {pid}"]
    if beat is not None:
        parts.append(f"last heartbeat {now - beat:.1f} s ago")
    if expires is not None:
        parts.append(f"lease expires in {max(0.0, expires - now):.0f} s")
    return ", ".join(parts)


class RunLease:
    """A held lease. `acquire` (or `for_new_run`), run `keep()` as a task while executing, then `release()`."""

    def __init__(self, store: Store, run_id: str, owner: str, ttl_s: float, heartbeat_s: float) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        _HELD.add(owner)

    @classmethod
    def for_new_run(
        cls, run_id: str, store: Store, *, ttl_s: float = LEASE_TTL_S, heartbeat_s: float = HEARTBEAT_S
    ) -> RunLease:
        """The lease a new run is created with (`Store.create_run(..., lease_owner=lease.owner)`)."""
        return cls(store, run_id, new_owner(), ttl_s, heartbeat_s)

    @classmethod
    def acquire(
        cls, store: Store, run_id: str, *, ttl_s: float = LEASE_TTL_S, heartbeat_s: float = HEARTBEAT_S
    ) -> RunLease:
        owner = new_owner()
        if store.try_lease(run_id, owner, ttl_s):
            return cls(store, run_id, owner, ttl_s, heartbeat_s)
        holder = store.lease_of(run_id)[0]
        if holder and owner_is_dead(holder) and store.try_lease(run_id, owner, ttl_s, replacing=holder):
            return cls(store, run_id, owner, ttl_s, heartbeat_s)
        raise RunLeasedError(
            f"run {run_id} is being executed by another process ({_describe(store, run_id)}); wait for it to "
            "finish, or if that process died on another machine, resume again once its lease has expired"
        )

    async def keep(self) -> None:
        """Heartbeat until cancelled. A renewal the store cannot take is retried at the next beat; a lease found
        taken over by another process stops this run (LeaseLostError)."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                ok = await asyncio.to_thread(self.store.renew_lease, self.run_id, self.owner, self.ttl_s)
            except Exception:
                continue  # the store is unavailable: the writer reports that; the lease may still be renewed later
            if not ok:
                raise LeaseLostError(
                    f"run {self.run_id}: the lease was lost (heartbeats could not be written for {self.ttl_s:.0f} s) "
                    f"and another process took the run over ({_describe(self.store, self.run_id)}); this one stopped"
                )

    def release(self) -> None:
        _HELD.discard(self.owner)
        with contextlib.suppress(Exception):
            self.store.release_lease(self.run_id, self.owner)

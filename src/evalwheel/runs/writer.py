"""Group commit: results are committed as they complete, several at a time when they complete together.

Each worker hands its result over and goes on; the writer task commits everything that arrived since its
last commit in one transaction. Under load this turns a thousand tiny transactions into a few dozen, and a
result is still durable within one event-loop tick of completing.
"""

from __future__ import annotations

import asyncio

from evalwheel.store import Store
from evalwheel.types import SampleResult


class ResultWriter:
    def __init__(self, store: Store, *, replace: bool = False) -> None:
        self.store = store
        self.replace = replace
        self._pending: list[SampleResult] = []
        self._costs: list[float] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.written = 0

    def put(self, result: SampleResult, cost_usd: float) -> None:
        self._pending.append(result)
        self._costs.append(cost_usd)
        self._wake.set()

    def flush(self) -> None:
        batch, costs = self._pending, self._costs
        self._pending, self._costs = [], []
        if batch:
            self.store.add_results(batch, costs, replace=self.replace)
            self.written += len(batch)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.flush()
            if self._closing:
                return

    def close(self) -> None:
        self._closing = True
        self._wake.set()

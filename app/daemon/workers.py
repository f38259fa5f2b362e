"""The daemon's worker pool, shared fairly: waiting requests are taken round robin, one
peer (a TCP address or a local process) at a time, and one peer never holds more than
half the workers. Scheduler is a part of server.Daemon (pool, queues, running, busy)."""

from __future__ import annotations

import asyncio
from collections import deque


class Scheduler:
    """Running requests in the worker pool (a part of server.Daemon)."""

    def _schedule(self, peer, fn) -> asyncio.Future:
        """Run fn in a worker. Waiting requests are taken round robin, one peer (a TCP
        address or a local process) at a time, and one peer never has more than half the
        workers: a client with many long queries delays only itself."""
        fut = self.loop.create_future()
        self.queues.setdefault(peer, deque()).append((fn, fut))
        self._dispatch()
        return fut

    def _dispatch(self) -> None:
        while self.busy < self.workers:
            peer = next((p for p in self.queues if self.running.get(p, 0) < self.peer_workers), None)
            if peer is None:
                return
            q = self.queues.pop(peer)  # taken off, and put back last: round robin
            fn, fut = q.popleft()
            if q:
                self.queues[peer] = q
            if fut.done():
                continue
            try:
                cf = self.pool.submit(fn)
            except RuntimeError as e:  # shut down
                fut.set_exception(e)
                continue
            self.busy += 1
            self.running[peer] = self.running.get(peer, 0) + 1
            cf.add_done_callback(lambda cf, peer=peer, fut=fut: self.loop.call_soon_threadsafe(
                self._done, peer, fut, cf))

    def _done(self, peer, fut: asyncio.Future, cf) -> None:
        self.busy -= 1
        n = self.running.get(peer, 1) - 1
        if n:
            self.running[peer] = n
        else:
            self.running.pop(peer, None)
        if not fut.done():
            if cf.cancelled():
                fut.set_exception(RuntimeError("shutting down"))
            elif cf.exception() is not None:
                fut.set_exception(cf.exception())
            else:
                fut.set_result(cf.result())
        self._dispatch()

"""LiveRunner: the one thread that keeps a storage root's data current — every active
watch (core/live/watches.py), the schedules that are due (core.live.schedules.run_due),
and the indexes over what it ingested (Lakehouse.refresh).

Only one process per root runs it: the runner holds an exclusive flock on
`<root>/live.lock` (released by the kernel if the process dies) and writes its pid
there, so another process (a TUI beside the daemon) runs nothing and can say which pid
does (`holder`). It works through its own facade on the same root and config, so its
ingests never share the caller's connections. `stop()` cancels an ingest in flight
(ingest leaves nothing half-written) and returns within a couple of seconds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from core.errors import Cancelled
from core.storage.locks import try_lock

from .watches import Watch

log = logging.getLogger("lakehouse.live")
LOCK = "live.lock"
TICK_S = 1.0  # how often schedules are looked at, and the longest a file event waits to be seen
UPKEEP_S = 60.0  # how often datasets' freshness is checked (a stale one is said once in _errors)


class Stop(threading.Event):
    """The runner's stop. Each job it starts gets a child event (`child()`): a job's cancel
    event is set when a user cancels that job, which must stop that job only, while the
    runner stopping cancels every job it has running."""

    def __init__(self):
        super().__init__()
        self._children: weakref.WeakSet = weakref.WeakSet()

    def set(self) -> None:
        super().set()
        for ev in list(self._children):
            ev.set()

    def child(self) -> threading.Event:
        ev = threading.Event()
        self._children.add(ev)
        if self.is_set():
            ev.set()
        return ev


def holder(root: Path) -> dict | None:
    """The process running this root's watches and schedules ({"pid", "started_at"}), or None."""
    path = Path(root) / LOCK
    if not path.exists():
        return None
    fd = try_lock(path)
    if fd is not None:  # nobody holds it
        os.close(fd)
        return None
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    return {"pid": info.get("pid"), "started_at": info.get("started_at")}


class LiveRunner:
    def __init__(self, config, say: Callable[[int, str, str], None] | None = None, *, once: bool = False):
        """`config`: the root's Config (the runner opens its own facade with it). `say(watch id,
        kind, line)` hears every event (`watch run` prints them). `once`: handle what is in the
        folders now, wait for it to settle, and end (no schedules)."""
        self.config, self.root = config, config.root
        self.say = say or (lambda wid, kind, text: None)
        self.once = once
        self.stop_event = Stop()
        self.settle_s = float(config.get("watch.settle_s"))
        self.rescan_s = float(config.get("watch.rescan_s"))
        self.refresh_s = float(config.get("watch.refresh_s"))
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self._fd: int | None = None
        self._opened = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> bool:
        """Take the root's live lock and start the thread; False when another process holds it."""
        # what the thread imports, imported here, before a daemon accepts a connection: a
        # process out of file descriptors cannot open a module's file
        import core  # noqa: F401
        import core.governance.retention  # noqa: F401
        import core.live.rows  # noqa: F401
        import core.live.schedules  # noqa: F401

        self.root.mkdir(parents=True, exist_ok=True)
        fd = try_lock(self.root / LOCK)
        if fd is None:
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started_at": datetime.now(timezone.utc).isoformat(
            timespec="seconds")}).encode(), 0)
        self.thread = threading.Thread(target=self._run, name="lakehouse-live", daemon=True)
        self.thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (an ingest in flight is cancelled) and release the lock."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)
        if self._fd is not None and (self.thread is None or not self.thread.is_alive()):
            os.close(self._fd)
            self._fd = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (a `once` run); True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        from core import Lakehouse

        try:
            self.lh = Lakehouse.open(config=self.config)
        except BaseException as e:  # noqa: BLE001 - nothing to run with; the caller sees .error
            self.error = e
            log.error(f"watches and schedules cannot run: {e}")
            return
        try:
            self._loop()
        except Cancelled:
            pass
        except BaseException as e:  # noqa: BLE001 - a bug: logged, and the thread ends
            self.error = e
            log.exception("the watch runner stopped")
        finally:
            notifier = getattr(self, "_notifier", None)
            if notifier is not None:
                notifier.close()
            self.lh.close()

    def _loop(self) -> None:
        from core.live.rows import WatchRows
        from core.live.schedules import run_due  # imported by start(): a tick may meet a process out of files

        self._run_due = run_due
        self._said: tuple[str, float] = ("", 0.0)

        self.rows = WatchRows(self.lh.catalog.db)
        self.watches: dict[int, Watch] = {}
        self._notifier, self._watched = None, ()
        self._last = {"scan": time.monotonic(), "refresh": time.monotonic()}
        while not self.stop_event.is_set():
            try:
                if self._tick():
                    return
            except Exception as e:  # noqa: BLE001 - a bug, or the catalog busy: logged, and on again
                if isinstance(e, Cancelled) and self.stop_event.is_set():
                    raise
                self._log_failure(f"the watch runner's tick failed: {type(e).__name__}: {e}")
                self.stop_event.wait(TICK_S)

    def _log_failure(self, message: str) -> None:
        """One line (the traceback at debug level), and the same line at most once a minute:
        a failure that lasts (a process out of file descriptors) must not flood the log."""
        now = time.monotonic()
        if message != self._said[0] or now - self._said[1] >= 60:
            self._said = (message, now)
            log.error(message)
        log.debug("the failure's traceback", exc_info=True)

    def _tick(self) -> bool:
        """One round: follow the catalog, take file events, ingest what settled, run due
        schedules and catch-up refreshes. True when a `once` run has nothing left."""
        self._sync()
        for change, path in self._wait():
            self._event(change, path)
        now = time.monotonic()
        if now - self._last["scan"] >= self.rescan_s:
            self._last["scan"] = now
            for w in self.watches.values():
                if w.ok and w.check_folder():
                    w.scan()
        for w in list(self.watches.values()):
            if w.ok:
                self._step(w)
        if self.once:
            return not any(w.pending or w.gone for w in self.watches.values())
        self._schedules()
        if self.refresh_s > 0 and now - self._last["refresh"] >= self.refresh_s:
            self._last["refresh"] = now
            self._catch_up()
        self._upkeep(now)
        return False

    def _upkeep(self, now: float) -> None:
        """Every UPKEEP_S: datasets that went stale are said in `_errors` (once each); once a
        day, and at start, [retention] is applied (a job of kind retention)."""
        from core.governance.retention import DAY_S, due

        try:
            if now - self._last.get("fresh", -UPKEEP_S) >= UPKEEP_S:
                self._last["fresh"] = now
                self.lh.freshness()
            if due(self.config) and now - self._last.get("retention", -DAY_S) >= DAY_S:
                self._last["retention"] = now
                self.lh.run_retention(cancel=self.stop_event.child())
        except Exception as e:  # noqa: BLE001 - a failed job is in `_errors`; a busy catalog: next time
            if isinstance(e, Cancelled) and self.stop_event.is_set():
                raise
            self._log_failure(f"freshness or retention upkeep failed: {type(e).__name__}: {e}")

    def _step(self, w: Watch) -> None:
        """One watch's settled files; a failure of one watch never stops the others."""
        try:
            w.step(self.stop_event)
        except Exception as e:  # noqa: BLE001 - a bug: said once per kind in _errors, the others go on
            if isinstance(e, Cancelled) and self.stop_event.is_set():
                raise
            message = f"watch {w.id} on {w.folder} failed unexpectedly: {type(e).__name__}: {e}"
            self._log_failure(message)
            if ("bug", type(e).__name__) not in w.said:
                w.said.add(("bug", type(e).__name__))
                self.lh.catalog.errors.add("watch", message)
        for dataset in dict.fromkeys(w.ingested):
            self._refresh(dataset)

    def _sync(self) -> None:
        """Follow the catalog: watches added, removed, paused or resumed by any process."""
        rows = {r["id"]: r for r in self.rows.all() if r["state"] != "paused"}
        for wid in list(self.watches):
            if wid not in rows or rows[wid]["folder"] != self.watches[wid].row["folder"] \
                    or rows[wid]["pattern"] != self.watches[wid].row["pattern"]:
                del self.watches[wid]
        for wid, row in rows.items():
            w = self.watches.get(wid)
            if w is None:
                w = self.watches[wid] = Watch(row, self.lh, self.rows, self.settle_s, self.say, self.stop_event)
            elif w.row["state"] == "error" and row["state"] == "active":  # resumed by hand: look again
                w.ok = None
            w.row.update(row)
            if not w.ok or not w.folder.is_dir():  # a folder that went is noticed within a tick
                w.check_folder()

    def _wait(self) -> set:
        """File events, or nothing after a tick (sooner while files are settling)."""
        from watchfiles._rust_notify import RustNotify

        folders = tuple(sorted({str(w.folder) for w in self.watches.values() if w.ok}))
        if folders != self._watched:
            if self._notifier is not None:
                self._notifier.close()
            self._notifier, self._watched = None, folders
            if folders:
                try:
                    self._notifier = RustNotify(list(folders), False, False, 300, True, True)
                except (OSError, RuntimeError) as e:  # a folder went in between: its check reports it
                    log.warning(f"cannot watch {', '.join(folders)}: {e}")
                    self._watched = ()
        # wake when the first settling file is due (a file is not left waiting for a tick)
        due = [p.since + self.settle_s for w in self.watches.values() for p in w.pending.values()] + \
            [t + 2 * self.settle_s for w in self.watches.values() for t in w.gone.values()]
        wake = min([TICK_S, *(d - time.monotonic() for d in due)])
        timeout = max(20, int(wake * 1000) + 5)
        if self._notifier is None:
            self.stop_event.wait(timeout / 1000)
            return set()
        got = self._notifier.watch(100, 50, timeout, self.stop_event)
        return got if isinstance(got, set) else set()

    def _event(self, change: int, path: str) -> None:
        for w in self.watches.values():
            if w.ok and (path == str(w.folder) or path.startswith(str(w.folder) + os.sep)):
                if path == str(w.folder) or not os.path.isdir(path):
                    if change == 3 and path == str(w.folder):  # the folder itself went
                        w.check_folder()
                    else:
                        w.touched(path)
                else:  # a folder moved in: its files are walked at once
                    w.scan()

    def _schedules(self) -> None:
        try:
            self._run_due(self.lh, self.stop_event.child())
        except Cancelled:
            if self.stop_event.is_set():
                raise
        except Exception as e:  # noqa: BLE001 - run_due records its own failures; a bug must not stop watches
            log.warning(f"running due schedules failed: {type(e).__name__}: {e}")

    def _catch_up(self) -> None:
        """Refresh the auto-refreshing indexes whose dataset changed at least `refresh_s` ago and
        that are still stale: whoever changed it (`ingest` on the command line refreshes itself)
        had that long to do so, so the two rarely reach for one index at once."""
        try:
            now = datetime.now(timezone.utc)
            stale = {i.dataset for i in self.lh.indexes() if i.auto_refresh and i.stale}
            due = [d for d in sorted(stale) if (now - datetime.fromisoformat(
                self.lh.dataset(d).updated_at)).total_seconds() >= self.refresh_s]
        except Exception as e:  # noqa: BLE001 - a dataset dropped meanwhile: next time
            log.warning(f"looking for stale indexes failed: {type(e).__name__}: {e}")
            return
        for dataset in due:
            self._refresh(dataset)

    def _refresh(self, dataset: str) -> None:
        """Bring auto-refreshing indexes up to date (Lakehouse.refresh, when the facade has it)."""
        refresh = getattr(self.lh, "refresh", None)
        if refresh is None or self.stop_event.is_set():
            return
        try:
            refresh(dataset, cancel=self.stop_event.child())
        except Cancelled:  # the runner stopping ends the loop; a user's cancel of the job does not
            if self.stop_event.is_set():
                raise
        except Exception as e:  # noqa: BLE001 - refresh records its own failures in _errors
            log.warning(f"refreshing the indexes of {dataset} failed: {e}")

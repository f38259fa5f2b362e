"""Jobs: long work that reports progress, can be cancelled, and is listed afterwards.

A job lives in the catalog's `jobs` table, so any process can list it and ask it to
stop (`cancel_requested`); the running process notices at its next progress report.
Failures land in `errors` (the `_errors` system table) with the job's id.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Iterator

from core.storage.catalog import Catalog
from core.errors import Cancelled, LakehouseError
from core.models import JobInfo, ProgressEvent

Listener = Callable[[ProgressEvent], None]

_DB_INTERVAL = 0.25  # seconds between progress writes / cancel checks in the catalog

# The facade call running in this thread (method + JSON-able arguments), recorded with
# every job it starts so `Lakehouse.retry_job` can make the same call again.
_CALL: ContextVar[dict | None] = ContextVar("lakehouse_job_call", default=None)
_NOT_RECORDED = ("self", "progress", "cancel", "job_id")
# The job running in this thread: a job started inside it (the demo's ingests) also stops
# when its parent is cancelled from another process.
_RUNNING: ContextVar["Job | None"] = ContextVar("lakehouse_running_job", default=None)


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def retryable(method):
    """Make a facade method retryable: the jobs it starts record the call (its
    name and the arguments it was given, without progress/cancel), so a failed,
    cancelled or interrupted job can be retried through the same public method.
    Applied by `core.api.operation(..., retryable=True)`, which also declares the
    method retryable for `Lakehouse.retry_job`."""
    sig = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        call = {"method": method.__name__,
                "kwargs": {k: v for k, v in bound.arguments.items() if k not in _NOT_RECORDED}}
        token = _CALL.set(call)
        try:
            return method(self, *args, **kwargs)
        finally:
            _CALL.reset(token)
    return wrapper


@contextmanager
def narrowed(**kwargs) -> Iterator[None]:
    """Within a recorded call, the jobs started here retry only their part of it
    (one file of a many-file ingest)."""
    call = _CALL.get()
    if call is None:
        yield
        return
    token = _CALL.set({"method": call["method"], "kwargs": {**call["kwargs"], **kwargs}})
    try:
        yield
    finally:
        _CALL.reset(token)


def recorded_call() -> str | None:
    """The call to store with a job started now, as JSON (None outside a retryable call)."""
    call = _CALL.get()
    if call is None:
        return None
    try:
        return json.dumps(call, default=_jsonable)
    except (TypeError, ValueError):  # an argument that cannot be stored: not retryable
        return None


class Job:
    """Handle a running job uses to report progress and notice cancellation."""

    def __init__(self, catalog: Catalog, kind: str, target: str, listener: Listener | None,
                 cancel: threading.Event | None, job_id: str | None = None):
        self.id = job_id or uuid.uuid4().hex[:12]
        self.kind, self.target = kind, target
        self._catalog, self._listener = catalog, listener
        self._cancel = cancel or threading.Event()
        self._parent = _RUNNING.get()
        self._last_db = 0.0
        self.done, self.total, self.unit, self.message = 0.0, None, "", ""
        self.on_cancel = "nothing was written"  # what a cancel leaves, said after "was cancelled"

    def progress(self, done: float | None = None, total: float | None = None,
                 unit: str | None = None, message: str | None = None, *, force: bool = False) -> None:
        """Report progress; raise Cancelled if the user asked this job to stop."""
        self.check_cancel()  # stopping: report nothing more (the frontend may be going away)
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if unit is not None:
            self.unit = unit
        if message is not None:
            self.message = message
        if self._listener:
            self._listener(ProgressEvent(self.id, self.kind, self.target, self.done, self.total,
                                         self.unit, self.message))
        t = time.monotonic()
        if force or t - self._last_db >= _DB_INTERVAL:
            self._last_db = t
            if self._requested():
                self._cancel.set()
        self.check_cancel()

    def _requested(self) -> bool:
        """Record progress; True when a cancel of this job or a parent was asked for in the catalog."""
        if self._catalog.jobs.update(self.id, self.done, self.total, self.unit, self.message):
            return True
        return self._parent is not None and self._parent._requested()

    @property
    def cancel_event(self) -> threading.Event:
        """The Event that stops this job: hand it to the jobs this one starts."""
        return self._cancel

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"{self.kind} of {self.target} was cancelled; {self.on_cancel}")

    @contextmanager
    def watching(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """While one long native call runs (a DuckDB statement) nothing reports progress:
        call `interrupt` as soon as a cancel is asked for — here, or from another process."""
        lock, stopped = threading.Lock(), threading.Event()

        def watch() -> None:
            # wakes when the block ends (so a short statement costs no wait) or each interval
            while not self._cancel.is_set():
                if stopped.wait(_DB_INTERVAL):
                    return
                try:
                    if self._requested():
                        self._cancel.set()
                except Exception:  # the catalog is unreachable: the job's own checks report it
                    return
            with lock:  # never interrupt a statement that runs after this block
                if not stopped.is_set():
                    interrupt()

        t = threading.Thread(target=watch, name=f"cancel-watch-{self.id}", daemon=True)
        t.start()
        try:
            yield
        finally:
            with lock:
                stopped.set()
            t.join(5)

    def pause_point(self, phase: str) -> None:
        """Test-only: with LAKEHOUSE_TEST_PAUSE_AT=<kind>:<phase> the job says it reached
        `phase` (its message) and waits there until it is cancelled, so a test can signal
        a process at a known phase instead of racing it."""
        if os.environ.get("LAKEHOUSE_TEST_PAUSE_AT") != f"{self.kind}:{phase}":
            return
        self.progress(message=f"test pause at {self.kind}:{phase}", force=True)
        while True:
            self._cancel.wait(_DB_INTERVAL)
            self.progress(force=True)  # raises Cancelled once asked, here or from another process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Jobs:
    def __init__(self, catalog: Catalog, keep: int = 500, owner=lambda: ""):
        """`owner()` names the profile a job started now runs as."""
        self._catalog, self._keep, self._owner = catalog, keep, owner

    @contextmanager
    def run(self, kind: str, target: str, listener: Listener | None = None,
            cancel: threading.Event | None = None, job_id: str | None = None) -> Iterator[Job]:
        """A job; `job_id` lets a parent process name the job it started in a child."""
        job = Job(self._catalog, kind, target, listener, cancel, job_id)
        self._catalog.jobs.add(job.id, kind, target, os.getpid(), recorded_call(), self._owner())
        token = _RUNNING.set(job)
        try:
            yield job
        except Cancelled as e:
            self._catalog.jobs.finish(job.id, "cancelled", str(e))
            raise
        except LakehouseError as e:
            self._catalog.jobs.finish(job.id, "failed", str(e))
            self._catalog.errors.add(kind, str(e), dataset=target, job_id=job.id)
            raise
        except BaseException as e:  # a bug or an interrupt: still findable in one call
            msg = f"{kind} of {target} failed unexpectedly: {type(e).__name__}: {e}"
            self._catalog.jobs.finish(job.id, "failed", msg)
            self._catalog.errors.add(kind, msg, dataset=target, job_id=job.id,
                                    detail=traceback.format_exc())
            raise
        else:
            self._catalog.jobs.update(job.id, job.done, job.total, job.unit, job.message)
            self._catalog.jobs.finish(job.id, "succeeded", job.message)
        finally:
            _RUNNING.reset(token)
            self._catalog.jobs.prune(self._keep)

    def list(self, limit: int = 50) -> list[JobInfo]:
        jobs = self._catalog.jobs.recent(limit)
        stale = [j.id for j in jobs if j.status == "running" and not _alive(j.pid)]
        if stale:
            self._catalog.jobs.mark_interrupted(stale)
            jobs = self._catalog.jobs.recent(limit)
        return jobs

    def cancel(self, job_id: str) -> bool:
        return self._catalog.jobs.request_cancel(job_id)

    def get(self, job_id: str) -> JobInfo | None:
        """One job, with a running job whose process died shown as interrupted."""
        job = self._catalog.jobs.get(job_id)
        if job is not None and job.status == "running" and not _alive(job.pid):
            self._catalog.jobs.mark_interrupted([job_id])
            job = self._catalog.jobs.get(job_id)
        return job

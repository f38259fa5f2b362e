"""Long facade calls (ingest, embed, demo, rebuilds, activations) run as jobs with a
progress bar on a terminal; Ctrl-C or SIGTERM cancels them, a third one stops at once."""

from __future__ import annotations

import sys
import threading

from app.output import say as print  # noqa: A001 — every message prints inert
from core.text import inert


def run_job(fn, *args, **kwargs):
    """Run a long facade call in a worker thread with a progress bar; Ctrl-C or SIGTERM
    cancels it. The signal handlers only set the cancel Event: an exception raised into
    the main thread while it joins the worker (Python 3.11) marks the still-running worker
    as stopped, and the interpreter then exits under it (a crash in native code)."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    cancel = threading.Event()
    box: dict = {}
    signals = [0]
    console = Console(stderr=True)
    # the description names files and datasets: literal text (markup=False, inert), never markup
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, int] = {}
        units: dict[str, str] = {}

        def listener(ev):
            if ev.job_id not in tasks:
                tasks[ev.job_id] = bar.add_task(inert(ev.target), total=None, unit="")
            if units.setdefault(ev.job_id, ev.unit) != ev.unit:  # a new phase: its own rate and ETA
                units[ev.job_id] = ev.unit
                bar.reset(tasks[ev.job_id])
            bar.update(tasks[ev.job_id], completed=ev.done,
                       total=ev.total if ev.total else None, unit=inert(ev.unit),
                       description=inert(f"{ev.kind} {ev.target}: {ev.message}"[:70]))

        def work():
            try:
                box["result"] = fn(*args, progress=listener, cancel=cancel, **kwargs)
            except BaseException as e:  # handed to the main thread
                box["error"] = e

        def on_signal(signum, frame):  # runs between bytecodes of the main thread: no I/O here
            signals[0] += 1
            cancel.set()

        # not a daemon thread: the process never ends while it is inside native code
        t = threading.Thread(target=work, name="lakehouse-job")
        previous = _trap_signals(on_signal)
        try:
            t.start()
            told = 0
            while t.is_alive():
                t.join(0.1)
                if signals[0] != told:
                    told = signals[0]
                    if told == 1:
                        bar.console.print("cancelling… (the job stops at its next checkpoint; "
                                          "Ctrl-C twice more stops at once)", highlight=False, soft_wrap=True)
                    elif told == 2:
                        bar.console.print("still cancelling — waiting for the current step to stop "
                                          "(Ctrl-C once more stops at once)", highlight=False, soft_wrap=True)
                    else:
                        _stop_now(fn)
        finally:
            _restore_signals(previous)
    if "error" in box:
        raise box["error"]
    if signals[0]:
        print("the job finished before the cancel reached it; its result is kept", file=sys.stderr)
    return box["result"]


def _trap_signals(handler) -> dict:
    """Route SIGINT and SIGTERM to `handler` (main thread only); the previous handlers."""
    import signal

    previous: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        old = signal.getsignal(sig)
        if sig == signal.SIGINT and old == signal.SIG_IGN:
            continue  # started with Ctrl-C ignored (nohup, `cmd &` in a script): keep it so
        previous[sig] = old
        signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    import signal

    for sig, old in previous.items():
        signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _stop_now(fn) -> None:
    """A third signal: record this process's running jobs cancelled and exit at once.
    Whatever they had half-written is uncommitted and invisible; the next start removes it
    (tables) or resumes from it (an embedding's saved batches). A daemon cancels the jobs of
    a client that hangs up, so a remote call needs nothing here."""
    import os

    lh = getattr(fn, "__self__", None)
    catalog = getattr(lh, "__dict__", {}).get("catalog")  # in-process facade only, never a remote proxy

    def record():
        try:
            for j in catalog.jobs.recent(100):
                if j.status == "running" and j.pid == os.getpid():
                    catalog.jobs.finish(j.id, "cancelled", f"{j.kind} of {j.target} was stopped at once "
                                       "(Ctrl-C three times); unfinished writes are cleaned up at the next start")
        except Exception:  # exiting regardless: the next start marks the job interrupted
            pass
    if catalog is not None:
        recorder = threading.Thread(target=record, daemon=True)
        recorder.start()
        recorder.join(5)
    print("cancelled: stopped at once; unfinished writes are cleaned up at the next start", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)

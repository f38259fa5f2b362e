"""Watches and schedules (the System pane's `w`): one table of the root's watched folders
and scheduled ingests with their state, last outcome, next run and the process that runs
them, with keys to pause or resume, run a schedule now (a job escape cancels), remove
(asked first) and add one from a small form (app/tui/live_add.py).

Everything goes through the facade (`app.lh`), in-process or a daemon's proxy. Folders,
sources, outcomes and error sentences quote files and users: literal text, never markup.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from panes.base import label, line, literal, said
from panes.keys import bindings, key_of
from panes.messages import DatasetsChanged
from panes.system import _flat as flat, _hm, run_by  # the System pane's words for them

REFRESH_S = 2.0
# the long ones last: at 80 columns the state, interval and next run are in view
COLUMNS = ("kind", "id", "state", "pattern / every", "next run", "last event / outcome", "folder / source", "run by")
WIDE = 60  # a cell longer than this shows its end (paths) or its start (sentences), with …


def _tail(text: str, n: int = WIDE) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


def _head(text: str, n: int = WIDE) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def rows(lh) -> tuple[str, list[dict]]:
    """The title's words for who runs them, and one row per watch and schedule."""
    short, long = run_by(lh, lh.watch_runner())
    out = []
    for w in lh.watch_list():
        last = (f"{_hm(w.last_event_at)} {flat(w.last_error or w.last_outcome)}" if w.last_event_at
                else "nothing yet")
        out.append({"kind": "watch", "id": w.id, "state": w.state, "what": w.folder,
                    "cells": ("watch", str(w.id), w.state,
                              _head(flat(w.pattern), 20) + f" → {w.dataset or '(file stem)'}", "on arrival",
                              _head(last), _tail(flat(w.folder)), short)})
    for s in lh.schedule_list():
        name = s.options.get("name")
        took = f" ({s.last_duration_s:.1f} s)" if s.last_duration_s is not None else ""
        last = (f"{_hm(s.last_run_at)} {s.last_outcome}{took} {flat(s.last_message)}" if s.last_run_at
                else "not run yet")
        state = s.state + (" (running)" if s.running else "")
        out.append({"kind": "schedule", "id": s.id, "state": s.state, "what": s.source,
                    "cells": ("schedule", str(s.id), state, f"every {s.every}", _hm(s.next_run_at), _head(last),
                              _tail(flat(s.source) + (f" → {name}" if name else "")), short)})
    return long, out


class LiveScreen(ModalScreen):
    """The watches and schedules; escape cancels a running schedule run, or closes."""

    AUTO_FOCUS = "#live-table"
    BINDINGS = bindings("live")

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict] = []
        self._job = None  # the run-now worker while it runs
        self._user_cancel = False
        self._first = True

    def compose(self) -> ComposeResult:
        keys = " · ".join(f"{key_of('live', a)} {w}" for a, w in (
            ("toggle", "pause/resume"), ("run_now", "run a schedule now"), ("remove", "remove"), ("add", "add"),
            ("close", "close")))
        with Vertical(id="live"):
            yield Static(line(("Watches and schedules", "bold")), id="live-title")
            yield Static(literal(keys), id="live-keys")
            yield DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
            yield ProgressBar(id="live-progress", show_eta=False, classes="-hidden")
            yield Static(literal("loading…"), id="live-log")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#live-table", DataTable)
        for c in COLUMNS:
            table.add_column(c)
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    def _log(self, text) -> None:
        log = self.query("#live-log")
        if log:  # not while the screen is being taken down (the app quitting)
            log.first(Static).update(text if not isinstance(text, str) else literal(text))

    # -- the list ----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="live-list")
    def reload(self) -> None:
        from core.errors import LakehouseError

        try:
            who, found = rows(self.app.lh)
        except LakehouseError as e:
            self.app.call_from_thread(self._log, line(("cannot list them: ", "bold"), said(e)))
            return
        self.app.call_from_thread(self._fill, who, found)

    def _fill(self, who: str, found: list[dict]) -> None:
        if not self.is_attached:
            return
        none = "" if found else f" · none yet: {key_of('live', 'add')} adds one"
        self.query_one("#live-title", Static).update(line(("Watches and schedules", "bold"), f" — {who}{none}"))
        if self._first:  # the log is for outcomes from here on
            self._first = False
            self._log("")
        table = self.query_one("#live-table", DataTable)
        if [i["cells"] for i in found] == [i["cells"] for i in self.items] and table.row_count == len(found):
            self.items = found  # nothing changed: the table is left alone (no flicker, the cursor stays)
            return
        keep = self._selected()
        keep = (keep["kind"], keep["id"]) if keep else None
        self.items = found
        table.clear()
        for item in found:  # folders, patterns and outcomes quote files and errors: literal, inert
            table.add_row(*(label(c) for c in item["cells"]))
        at = next((n for n, i in enumerate(found) if (i["kind"], i["id"]) == keep), 0)
        if found:
            table.move_cursor(row=at)

    def _selected(self) -> dict | None:
        table = self.query_one("#live-table", DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    def _call(self, fn, *args):
        """A facade call from a worker: its result, or None with the refusal shown."""
        from core.errors import LakehouseError

        try:
            return fn(*args)
        except LakehouseError as e:
            self.app.call_from_thread(self._log, line(("refused: ", "bold"), said(e)))
            return None

    # -- pause / resume ----------------------------------------------------------------------
    def action_toggle(self) -> None:
        item = self._selected()
        if item is not None:
            self.toggle(item)

    @work(thread=True, group="live-toggle")
    def toggle(self, item: dict) -> None:
        kind, lh = item["kind"], self.app.lh
        resume = item["state"] in ("paused", "error")
        if kind == "watch":
            fn = lh.watch_resume if resume else lh.watch_pause
        else:
            fn = lh.schedule_resume if resume else lh.schedule_pause
        done = self._call(fn, item["id"])
        if done is not None:
            again = "resumes" if done.state == "paused" else "pauses"
            self.app.call_from_thread(self._log, f"{kind} {done.id} is {done.state} now — "
                                                 f"{key_of('live', 'toggle')} {again} it")
        self.reload()

    # -- run now -----------------------------------------------------------------------------
    def action_run_now(self) -> None:
        item = self._selected()
        if item is None or self._job is not None:
            return
        if item["kind"] != "schedule":
            self._log("a watch runs when files arrive in its folder — run now is for a schedule")
            return
        self._user_cancel = False
        bar = self.query_one("#live-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.remove_class("-hidden")
        self._log(f"running schedule {item['id']}… (escape cancels)")
        self._job = self.run_now(item["id"])

    @work(thread=True, group="live-run")
    def run_now(self, sid: int) -> None:
        from core.errors import Cancelled, LakehouseError

        def progress(ev) -> None:
            self.app.call_from_thread(self._progress, ev)
        try:
            s = self.app.run_job(self.app.lh.schedule_run, sid, progress=progress)
        except LakehouseError as e:
            if not (self.app.quitting and not self._user_cancel):
                word = "cancelled: " if isinstance(e, Cancelled) else "refused: "
                self.app.call_from_thread(self._ran, line((word, "bold"), said(e)), False)
            return
        took = f" ({s.last_duration_s:.1f} s)" if s.last_duration_s is not None else ""
        text = line((f"schedule {s.id}: {s.last_outcome}", "bold" if s.last_outcome != "failed" else "bold red"),
                    f" — {s.last_message}{took}")
        if not (self.app.quitting and not self._user_cancel):
            self.app.call_from_thread(self._ran, text, s.last_outcome == "ingested")

    def _progress(self, ev) -> None:
        if self._job is None:
            return
        self.query_one("#live-progress", ProgressBar).update(total=ev.total, progress=ev.done)
        done = f"{int(ev.done):,}/{int(ev.total):,} {ev.unit}" if ev.total else f"{int(ev.done):,} {ev.unit}"
        self._log(f"running: {done} — {flat(ev.message)} (escape cancels)")

    def _ran(self, text, changed: bool) -> None:
        self._job = None
        if not self.is_attached:
            return
        self.query_one("#live-progress", ProgressBar).add_class("-hidden")
        self._log(text)
        if changed:  # Explore reloads its tree behind the screen
            self.app.post_message(DatasetsChanged())
        self.reload()

    # -- remove ------------------------------------------------------------------------------
    def action_remove(self) -> None:
        from panes.trials import Confirm

        item = self._selected()
        if item is None:
            return
        rows_stay = "the rows its files added stay" if item["kind"] == "watch" else "what it ingested stays"
        question = f"Remove {item['kind']} {item['id']} ({_tail(flat(item['what']))})? {rows_stay}."
        self.app.push_screen(Confirm(question), lambda yes: yes and self.remove_item(item))

    @work(thread=True, group="live-remove")
    def remove_item(self, item: dict) -> None:
        lh = self.app.lh
        done = self._call(lh.watch_remove if item["kind"] == "watch" else lh.schedule_remove, item["id"])
        if done is not None:
            what = done.folder if item["kind"] == "watch" else done.source
            self.app.call_from_thread(self._log, f"{item['kind']} {done.id} removed ({flat(what)})")
        self.reload()

    # -- add ---------------------------------------------------------------------------------
    def action_add(self) -> None:
        from app.tui.live_add import AddLiveScreen

        self.app.push_screen(AddLiveScreen(), self._added)

    def _added(self, said_: str | None) -> None:
        if said_:
            self._log(said_)
            self.reload()

    def action_close(self) -> None:
        """Escape: cancel the running schedule run (recorded cancelled), or close."""
        if self._job is not None:
            self._user_cancel = True
            self._log("cancelling…")
            self._job.cancel()
            return
        self.dismiss(None)

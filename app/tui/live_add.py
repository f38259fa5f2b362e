"""The add form of the watches and schedules screen: a watched folder (folder with path
completion, pattern, name, mode, key, schema-change policy) or a schedule (a path, glob or
postgresql:// URL, its interval, name, mode, key, for PostgreSQL its query or table and
incremental column, and why) — the options `lakehouse watch add` and `lakehouse schedule
add` have. A refusal (a folder
that does not exist, a bad interval, a restricted profile) is its one sentence and the
form stays open; once added it closes, saying what was added."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from app.tui.ingest import PathSuggester, absolute
from panes.base import TextInput, line, literal, said
from panes.keys import bindings, key_of

KINDS = [("watch a folder", "watch"), ("schedule a source", "schedule")]
MODES = ("append", "upsert", "replace")
POLICIES = ("refuse", "additive")


class AddLiveScreen(ModalScreen):
    """Dismissed with the sentence saying what was added, or None."""

    AUTO_FOCUS = "#live-add-path"
    BINDINGS = bindings("live_add")

    def compose(self) -> ComposeResult:
        with Vertical(id="live-add"):
            yield Static(line(("Add a watch or a schedule", "bold"),
                              f"  — {key_of('live_add', 'add')} or enter adds; → completes the path; "
                              f"{key_of('live_add', 'close')} closes"))
            with Horizontal(classes="live-add-row"):
                yield Label("kind")
                yield Select(KINDS, value="watch", allow_blank=False, id="live-add-kind", compact=True)
            with Horizontal(classes="live-add-row"):
                yield Label("folder", id="live-add-path-label")
                yield TextInput(placeholder="the folder files arrive in (~ is your home)", suggester=PathSuggester(),
                                id="live-add-path", compact=True)
            with Horizontal(classes="live-add-row -watch"):
                yield Label("pattern")
                yield TextInput(placeholder="* (every file), or e.g. *.csv", id="live-add-pattern", compact=True)
            with Horizontal(classes="live-add-row -schedule"):
                yield Label("every")
                yield TextInput(placeholder="30s, 15m, 2h or 1d (at least 10s)", id="live-add-every", compact=True)
            with Horizontal(classes="live-add-row"):
                yield Label("name")
                yield TextInput(placeholder="dataset (default: the folder's or file's name)", id="live-add-name",
                                compact=True)
                yield Label(" mode")
                yield Select([(m, m) for m in MODES], prompt="default", id="live-add-mode", compact=True)
            with Horizontal(classes="live-add-row"):
                yield Label("key")
                yield TextInput(placeholder="primary key column(s): id or region,id", id="live-add-key",
                                compact=True)
                yield Label(" schema")
                yield Select([(f"on change: {p}", p) for p in POLICIES], value="refuse", allow_blank=False,
                             id="live-add-policy", compact=True)
            with Horizontal(classes="live-add-row -watch"):
                yield Label("")
                yield Checkbox("each file's stem names its dataset", id="live-add-stem", compact=True)
            with Horizontal(classes="live-add-row -schedule"):
                yield Label("query")
                yield TextInput(placeholder="postgresql:// only: the SELECT to ingest", id="live-add-query",
                                compact=True)
                yield Label(" table")
                yield TextInput(placeholder="or schema.table", id="live-add-table", compact=True)
            with Horizontal(classes="live-add-row -schedule"):
                yield Label("since")
                yield TextInput(placeholder="postgresql:// only: fetch rows past the last run's COLUMN",
                                id="live-add-since", compact=True)
                yield Label(" reason")
                yield TextInput(placeholder="why (journaled)", id="live-add-reason", compact=True)
            yield Static("", id="live-add-error")
        yield Footer()

    def on_mount(self) -> None:
        self._show_kind("watch")

    # -- the form ----------------------------------------------------------------------------
    def _kind(self) -> str:
        return self.query_one("#live-add-kind", Select).value

    def _show_kind(self, kind: str) -> None:
        for box in self.query(".-watch"):
            box.display = kind == "watch"
        for box in self.query(".-schedule"):
            box.display = kind == "schedule"
        self.query_one("#live-add-path-label", Label).update("folder" if kind == "watch" else "source")
        self.query_one("#live-add-path", Input).placeholder = (
            "the folder files arrive in (~ is your home)" if kind == "watch"
            else "a file, folder, glob or postgresql://USER@HOST/DB (no password)")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "live-add-kind":
            self._show_kind(event.value)
            self._error("")

    def _value(self, wid: str) -> str | None:
        return self.query_one(f"#live-add-{wid}", Input).value.strip() or None

    def _error(self, text: str) -> None:
        self.query_one("#live-add-error", Static).update(line(("refused: ", "bold"), text) if text else literal(""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_add()

    # -- adding ------------------------------------------------------------------------------
    def action_add(self) -> None:
        kind, path = self._kind(), self._value("path")
        if self.app.lh is None:
            self._error("the storage root is still opening — try again in a moment")
            return
        if not path:
            self._error("no folder given — type the folder files arrive in" if kind == "watch"
                        else "no source given — type a file, folder, glob or postgresql:// URL")
            return
        mode = self.query_one("#live-add-mode", Select).value
        opts = {"name": self._value("name"), "mode": mode if isinstance(mode, str) else None,
                "key": self._value("key"), "schema_change": self.query_one("#live-add-policy", Select).value}
        if kind == "watch":
            opts.update(pattern=self._value("pattern") or "*", mode=opts["mode"] or "append",
                        name_from_file=self.query_one("#live-add-stem", Checkbox).value)
            self.add_item(kind, absolute(path), opts)
            return
        every = self._value("every")
        if not every:
            self._error("no interval given — type how often: 30s, 15m, 2h or 1d")
            return
        # a path as the core (maybe a daemon, with its own working directory) must see it
        source = path if "://" in path else absolute(path)
        opts.update(query=self._value("query"), table=self._value("table"), incremental_by=self._value("since"),
                    reason=self._value("reason") or "")
        self.add_item(kind, source, opts, every)

    @work(thread=True, exclusive=True, group="live-add")
    def add_item(self, kind: str, source: str, opts: dict, every: str | None = None) -> None:
        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            if kind == "watch":
                w = lh.watch_add(source, **opts)
                into = f"dataset {w.dataset}" if w.dataset else "a dataset per file (its stem)"
                text = f"watch {w.id} added: {w.folder} ({w.pattern}) → {into}, {w.mode} · {w.state}"
            else:
                s = lh.schedule_add(source, every, **opts)
                text = (f"schedule {s.id} added: {s.source} every {s.every}, first run at "
                        f"{str(s.next_run_at)[11:16]} UTC")
        except LakehouseError as e:
            self.app.call_from_thread(self._error, said(e))
            return
        self.app.call_from_thread(self.dismiss, text)

    def action_close(self) -> None:
        self.dismiss(None)

"""The workstation: a Textual app over core.Lakehouse.

The first frame is drawn before anything heavy loads: the facade (and with it DuckDB,
pyarrow, hnswlib, the ollama client) is opened in a worker thread, and each pane
fills in when it is ready. All core work runs in thread workers that post results
back; the event loop never waits on the core.
"""

from __future__ import annotations

import threading
from functools import partial

from textual import work
from textual.actions import parse
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from app.tui.screens import HelpScreen, ProfilePicker
from core.text import inert
from panes.base import line, said
from panes.keys import PANES, Action, bindings, commands
from panes.messages import DatasetsChanged, EmbedColumn, Govern, OpenInSql, OpenIndex, Rescoped, SearchIndex
from themes import CSS, THEMES


class FacadeOpened(Message):
    """The facade is open."""

    def __init__(self, lh) -> None:
        super().__init__()
        self.lh = lh


class LakehouseApp(App):
    TITLE = "Lakehouse"
    AUTO_FOCUS = "#ask-input"  # the app opens on Ask, ready for a question
    CSS_PATH = str(CSS)
    BINDINGS = bindings("app")

    def __init__(self, home=None, config_file=None, profile=None, theme: str | None = None, opener=None):
        super().__init__()
        self.home, self.config_file, self.profile_name = home, config_file, profile
        self.opener = opener  # makes the facade: in-process by default, a daemon's proxy with --connect
        self.lh = None
        self._wanted_theme = theme
        self._jobs_lock = threading.Lock()
        self._jobs_running, self._closing = 0, False
        self.live = None  # the LiveRunner, when this TUI runs the root's watches and schedules

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from panes.ask import AskPane
        from panes.explore import ExplorePane
        from panes.memory import MemoryPane
        from panes.sql import SqlPane
        from panes.system import SystemPane
        from panes.trials import TrialsPane

        with Horizontal(id="topbar"):
            yield Static("Lakehouse", id="brand")
            yield Static("opening…", id="status")
        panes = {"ask": AskPane, "explore": ExplorePane, "sql": SqlPane, "trials": TrialsPane, "system": SystemPane,
                 "memory": MemoryPane}
        with TabbedContent(id="panes"):
            for pid, title, key in PANES:
                with TabPane(f"{title} ({key.upper()})", id=pid):
                    yield panes[pid]()
        yield Footer()

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self._wanted_theme or "lakehouse-dark"
        if threading.current_thread() is threading.main_thread():
            import asyncio
            import signal

            # SIGTERM (or a SIGINT sent with kill: Ctrl-C is a key here) quits like ctrl+q, so a
            # running job is cancelled and recorded; the loop removes these when it closes
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, self.exit)
        self.open_facade()

    @work(thread=True, exclusive=True, group="open")
    def open_facade(self) -> None:
        from core import Lakehouse
        from core.errors import LakehouseError

        try:
            lh = self.opener() if self.opener else Lakehouse.open(home=self.home, config_file=self.config_file,
                                                                  profile=self.profile_name)
        except LakehouseError as e:
            self.call_from_thread(self._status, line(("cannot open the storage root:", "bold red"), f" {said(e)}"))
            return
        self.post_message(FacadeOpened(lh))

    def on_facade_opened(self, message: FacadeOpened) -> None:
        self.lh = message.lh
        for problem in self.lh.profile_problems:
            self.notify(problem, severity="warning", timeout=8)
        if self.opener is None:  # in-process: run the watches and schedules unless another process does
            self._start_live()
        self.refresh_status()
        for pane in self.panes():
            pane.ready(self.lh)

    def _start_live(self) -> None:
        from core.access import restricted
        from core.live.runner import LiveRunner

        if restricted(self.lh.profile):  # watches and schedules run as an unrestricted profile
            return
        try:
            runner = LiveRunner(self.lh.config)
            self.live = runner if runner.start() else None
        except Exception as e:  # noqa: BLE001 - the workstation works without them
            self.notify(f"watches and schedules cannot run in this TUI: {type(e).__name__}: {e}", severity="warning")

    def panes(self):
        from panes.base import Pane

        return list(self.query(Pane))

    def pane(self, pane_id: str):
        """The pane in tab `pane_id` (one of panes.keys.PANES)."""
        return self.query_one(f"#{pane_id}").query_children().first()

    def on_unmount(self) -> None:
        if self.live is not None:  # an ingest in flight is cancelled; nothing is left half-written
            self.live.stop(3.0)
        with self._jobs_lock:  # a job still stopping closes the facade when it has stopped
            self._closing = True
            if self.lh is not None and not self._jobs_running:
                self.lh.close()

    def run_job(self, fn, *args, progress=None, **kwargs):
        """Call facade job `fn` from a thread worker. Quitting (ctrl+q, SIGTERM) cancels every
        worker, and the worker's cancelled_event is the job's cancel: the job stops at its next
        checkpoint and is recorded cancelled; the process exits once it has (Python waits for
        the worker thread). Progress stops reaching the screen once the app is going away."""
        from textual.worker import get_current_worker

        worker = get_current_worker()

        def report(ev) -> None:
            if progress is None or worker.is_cancelled:
                return
            try:
                progress(ev)
            except Exception:
                if not worker.is_cancelled:  # the screen went away under it: not the job's problem
                    raise
        with self._jobs_lock:
            self._jobs_running += 1
        try:
            return fn(*args, progress=report, cancel=worker.cancelled_event, **kwargs)
        finally:
            with self._jobs_lock:
                self._jobs_running -= 1
                if self._closing and not self._jobs_running and self.lh is not None:
                    self.lh.close()

    @property
    def quitting(self) -> bool:
        """In a thread worker: True once the app is going away (it cancels every worker
        first), so the worker stays quiet instead of notifying a screen that is gone."""
        from textual.worker import NoActiveWorker, get_current_worker

        try:
            return get_current_worker().is_cancelled
        except NoActiveWorker:
            return self._closing

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A notification. Its message may quote a file name, a dataset or an error text, so
        it is literal text by default (Textual parses markup unless told not to) and inert:
        control characters are shown as \\x1b, never sent to the terminal."""
        super().notify(inert(str(message), tabs=True), title=inert(str(title)), severity=severity,
                       timeout=timeout, markup=markup)

    # -- status bar --------------------------------------------------------------------------
    def _status(self, text) -> None:
        status = self.query("#status")
        if status:  # a status that arrives while the app is closing has nowhere to go
            status.first(Static).update(text)

    @work(thread=True, exclusive=True, group="status")
    def refresh_status(self) -> None:
        """Profile and Ollama reachability (checked off the event loop)."""
        lh = self.lh
        if lh is None:
            return
        st = lh.ollama_status()
        ollama = (("● reachable", "green") if st["reachable"] else ("○ not reachable", "red"))
        where = f"daemon pid {lh.server_pid}" if getattr(lh, "server_pid", None) else "in-process"
        text = line("profile ", (lh.profile.id, "bold"), f" · {where} · Ollama ", ollama,  # literal: no markup
                    f" at {st['url']} · {lh.root}")  # the root last: long paths get cut
        self.call_from_thread(self._status, text)

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool:
        """Panes and the profile picker stay put while a picker or the help is open."""
        if action in ("pane", "next_pane", "pick_profile", "ingest"):
            return not isinstance(self.screen, ModalScreen)
        return True

    def action_pane(self, pane_id: str) -> None:
        self.query_one("#panes", TabbedContent).active = pane_id
        self.pane(pane_id).focus_main()

    def action_next_pane(self) -> None:
        ids = [pid for pid, _, _ in PANES]
        self.action_pane(ids[(ids.index(self.query_one("#panes", TabbedContent).active) + 1) % len(ids)])

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_ingest(self) -> None:
        from app.tui.ingest import IngestScreen

        self.push_screen(IngestScreen())

    def action_new_profile(self) -> None:
        from app.tui.profiles import new_profile

        new_profile(self)

    def action_edit_profile(self) -> None:
        from app.tui.profiles import choose

        choose(self, "Edit")

    def action_delete_profile(self) -> None:
        from app.tui.profiles import choose

        choose(self, "Delete")

    def action_dataset_versions(self) -> None:
        """The palette's versions: Explore's selected dataset, else a picker of them."""
        from app.tui.versions import open_versions

        selected = self.pane("explore").selected() if self.query_one("#panes", TabbedContent).active == "explore" \
            else None
        open_versions(self, selected[1] if selected and selected[0] in ("dataset", "column") else None)

    def action_record_history(self) -> None:
        """The palette's record history: the row under the cursor of the front pane's result grid."""
        from panes.grid import RecordGrid

        grids = self.pane(self.query_one("#panes", TabbedContent).active).query(RecordGrid)
        if not grids:
            self.notify("put the cursor on a row of a result grid (SQL results or Explore's sample) first",
                        severity="warning")
            return
        grids.first().action_history()

    def action_index_generations(self) -> None:
        from app.tui.indexes import pick_index

        pick_index(self)

    def action_demo(self) -> None:
        from app.tui.demo import DemoScreen

        if self.lh is not None:
            self.push_screen(DemoScreen())

    def action_pick_profile(self) -> None:
        if self.lh is not None:
            self.pick_profile()

    @work(thread=True, exclusive=True, group="profiles")
    def pick_profile(self) -> None:
        """The profiles as the config file has them now (another shell may have added one)."""
        from core.errors import LakehouseError

        try:
            profiles = self.lh.profiles()
        except LakehouseError as e:
            self.call_from_thread(self.notify, said(e), severity="error", timeout=10)
            return
        self.call_from_thread(self.push_screen, ProfilePicker(profiles), self._switch_profile)

    def _switch_profile(self, pid: str | None) -> None:
        if pid and self.lh is not None:
            self.notify(f"activating {pid}…", timeout=3)
            self.activate(pid)

    @work(thread=True, exclusive=True, group="activate")
    def activate(self, pid: str) -> None:
        from core.errors import LakehouseError

        def progress(ev) -> None:
            self.call_from_thread(self._status, line("activating ", (pid, "bold"), f": {ev.message} "
                                                     f"({int(ev.done)}/{int(ev.total or 0)})"))
        try:
            self.run_job(self.lh.activate, pid, progress=progress)
        except LakehouseError as e:
            if self.quitting:  # cancelled by quitting: recorded as such, nothing to show
                return
            self.call_from_thread(self.notify, said(e), severity="error", timeout=10)
            self.call_from_thread(self.refresh_status)
            return
        self.call_from_thread(self._rescoped, pid)

    def _rescoped(self, pid: str) -> None:
        self.notify(f"{pid} is the active profile")
        self.refresh_status()
        for pane in self.panes():
            pane.rescope()

    # -- what panes tell the app (panes/messages.py): a pane never reaches into another ------
    def on_open_in_sql(self, message: OpenInSql) -> None:
        """Explore's query, Ask's SQL or cited rows: into the SQL pane's editor, run."""
        message.stop()
        self.action_pane("sql")
        self.pane("sql").set_query(message.sql, run=message.run)

    def on_rescoped(self, message: Rescoped) -> None:
        message.stop()
        self._rescoped(message.profile)

    def on_datasets_changed(self, message: DatasetsChanged) -> None:
        message.stop()
        self.pane("explore").action_reload()
        self.pane("sql").datasets_changed()

    def on_govern(self, message: Govern) -> None:
        """Explore's annotate, tag, compact or resync: a screen or a confirmation (app/tui/annotate.py)."""
        from app.tui.annotate import govern

        message.stop()
        govern(self, message)

    def on_embed_column(self, message: EmbedColumn) -> None:
        """Explore's e on a text column: the embed form (app/tui/embed.py)."""
        from app.tui.embed import EmbedScreen

        message.stop()
        self.push_screen(EmbedScreen(message.dataset, message.column))

    def on_record_action(self, message) -> None:
        """e, d or h on a result grid's cell (panes.messages.RecordAction): app/tui/records.py."""
        from app.tui.records import record_action

        message.stop()
        record_action(self, message)

    def on_open_versions(self, message) -> None:
        """v in Explore (panes.messages.OpenVersions): the dataset's versions (app/tui/versions.py)."""
        from app.tui.versions import open_versions

        message.stop()
        open_versions(self, message.dataset)

    def on_open_index(self, message: OpenIndex) -> None:
        """g in Explore or Trials: the index's generations (app/tui/indexes.py)."""
        from app.tui.indexes import IndexScreen

        message.stop()
        self.push_screen(IndexScreen(message.index))

    def on_search_index(self, message: SearchIndex) -> None:
        """s in Explore (or the palette): the search screen; a hit it opens is run in SQL."""
        from app.tui.search import SearchScreen

        message.stop()
        self.push_screen(SearchScreen(message.index, message.dataset),
                         lambda sql: sql and self.post_message(OpenInSql(sql)))

    def on_open_live(self, message) -> None:
        """w in the System pane (panes.messages.OpenLive): the watches and schedules (app/tui/live.py)."""
        from app.tui.live import LiveScreen

        message.stop()
        if self.lh is not None:
            self.push_screen(LiveScreen())

    # -- the command palette: every action the key table gives a command title ----------------
    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for action, title in commands():
            yield SystemCommand(title, action.command_help, partial(self.run_command, action))

    def run_command(self, action: Action) -> None:
        """A palette entry: the action on the app, or on its pane (shown first when the
        table says so), called directly as its key would."""
        _, name, params = parse(action.action)
        if action.to_pane:
            self.action_pane(action.scope)
        target = self if action.scope == "app" else self.pane(action.scope)
        getattr(target, f"action_{name}")(*params)


def run(home=None, config_file=None, profile=None, theme=None, opener=None) -> None:
    LakehouseApp(home, config_file, profile, theme, opener).run()

"""The workstation: a Textual app over core.Lakehouse.

The first frame is drawn before anything heavy loads: the facade (and with it DuckDB,
pyarrow, hnswlib, the ollama client) is opened in a worker thread, and each pane
fills in when it is ready. All core work runs in thread workers that post results
back; the event loop never waits on the core.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Markdown, Static, TabbedContent, TabPane

from panes.base import FilterPicker

from themes import THEMES

PANES = [("ask", "Ask", "f1"), ("explore", "Explore", "f2"), ("sql", "SQL", "f3"), ("system", "System", "f4")]

HELP = """\
# Lakehouse — keys

| key | what it does |
|---|---|
| **F1** / **alt+1** | Ask: questions answered from your data |
| **F2** / **alt+2** | Explore: datasets, columns, indexes, system tables |
| **F3** / **alt+3** | SQL: editor and results |
| **F4** / **alt+4** | System: health, jobs, errors, audit |
| **ctrl+p** | command palette: every action with its key |
| **ctrl+o** | switch profile: 1–9 picks one directly, or type to filter |
| **ctrl+enter** or **ctrl+j** | SQL: run the statement under the cursor, or the selection |
| **ctrl+g** | SQL: cancel the running query |
| **ctrl+h** | SQL: query history (type to filter, enter loads one) |
| **ctrl+t** | SQL: a new buffer (close one from the command palette) |
| **ctrl+space** | SQL: complete a dataset or column name |
| **enter** on a result cell | SQL: the whole value; **c** copies the cell, **C** the row (OSC 52) |
| **ctrl+s** | SQL: export the result (csv, parquet or json, by the file's extension) |
| **enter** | Explore: open a query on the selected dataset in the SQL pane |
| **space** / **p** / **e** | Explore: expand a node / pin or unpin a dataset / embed the selected text column |
| **x** / **t** | System: cancel the highlighted running job / retry the highlighted failed, cancelled or interrupted one |
| **ctrl+r** / **ctrl+l** | Ask: open the last answer's SQL / its cited rows in the SQL pane |
| **ctrl+q** | quit |

Press **escape** to close this help.
"""


class FacadeOpened(Message):
    """The facade is open."""

    def __init__(self, lh) -> None:
        super().__init__()
        self.lh = lh


class HelpScreen(ModalScreen):
    AUTO_FOCUS = "*"  # the app's own AUTO_FOCUS names a widget these screens do not have
    BINDINGS = [Binding("escape,q,question_mark,f1", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        yield Markdown(HELP, id="help")


class ProfilePicker(FilterPicker):
    """Profiles: 1–9 picks one directly; or type to filter and press enter."""

    heading = "Switch profile — 1–9 picks directly; or type to filter, enter to activate"

    def __init__(self, profiles: list[dict]) -> None:
        self.profiles = profiles
        super().__init__()

    def choices(self, text: str) -> list[tuple[str, object]]:
        t = text.lower()
        return [(f"{n}{'●' if p['active'] else ' '} {p['id']}  —  {p['description'] or ', '.join(p['datasets'])}",
                 p["id"]) for n, p in enumerate(self.profiles, 1)
                if t in p["id"].lower() or t in (p["description"] or "").lower()]

    def on_input_changed(self, event: Input.Changed) -> None:
        if len(event.value) == 1 and event.value in "123456789":  # a digit first: that profile, directly
            n = int(event.value)
            if n <= len(self.profiles):
                self.dismiss(self.profiles[n - 1]["id"])
                return
        self._fill(event.value)


class LakehouseApp(App):
    TITLE = "Lakehouse"
    AUTO_FOCUS = "#ask-input"  # the app opens on Ask, ready for a question
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "themes" / "lakehouse.tcss")
    BINDINGS = [
        *[Binding(f"{key},alt+{i + 1}", f"pane('{pid}')", title, show=True)
          for i, (pid, title, key) in enumerate(PANES)],
        Binding("ctrl+o", "pick_profile", "Profile"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, home=None, config_file=None, profile=None, theme: str | None = None, opener=None):
        super().__init__()
        self.home, self.config_file, self.profile_name = home, config_file, profile
        self.opener = opener  # makes the facade: in-process by default, a daemon's proxy with --connect
        self.lh = None
        self._wanted_theme = theme

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from panes.ask import AskPane
        from panes.explore import ExplorePane
        from panes.sql import SqlPane
        from panes.system import SystemPane

        with Horizontal(id="topbar"):
            yield Static("Lakehouse", id="brand")
            yield Static("opening…", id="status")
        with TabbedContent(id="panes"):
            with TabPane("Ask (F1)", id="ask"):
                yield AskPane()
            with TabPane("Explore (F2)", id="explore"):
                yield ExplorePane()
            with TabPane("SQL (F3)", id="sql"):
                yield SqlPane()
            with TabPane("System (F4)", id="system"):
                yield SystemPane()
        yield Footer()

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self._wanted_theme or "lakehouse-dark"
        self.open_facade()

    @work(thread=True, exclusive=True, group="open")
    def open_facade(self) -> None:
        from core import Lakehouse
        from core.errors import LakehouseError

        try:
            lh = self.opener() if self.opener else Lakehouse.open(home=self.home, config_file=self.config_file,
                                                                  profile=self.profile_name)
        except LakehouseError as e:
            self.call_from_thread(self._status, f"[b red]cannot open the storage root:[/] {e}")
            return
        self.post_message(FacadeOpened(lh))

    def on_facade_opened(self, message: FacadeOpened) -> None:
        self.lh = message.lh
        for problem in self.lh.profile_problems:
            self.notify(problem, severity="warning", timeout=8)
        self.refresh_status()
        for pane in self.panes():
            pane.ready(self.lh)

    def panes(self):
        from panes.base import Pane

        return list(self.query(Pane))

    def on_unmount(self) -> None:
        if self.lh is not None:
            self.lh.close()

    # -- status bar --------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    @work(thread=True, exclusive=True, group="status")
    def refresh_status(self) -> None:
        """Profile and Ollama reachability (checked off the event loop)."""
        lh = self.lh
        if lh is None:
            return
        st = lh.ollama_status()
        ollama = (f"Ollama [green]● reachable[/] at {st['url']}" if st["reachable"]
                  else f"Ollama [red]○ not reachable[/] at {st['url']}")
        where = f"daemon pid {lh.server_pid}" if getattr(lh, "server_pid", None) else "in-process"
        text = f"profile [b]{lh.profile.id}[/] · {ollama} · {lh.root} ({where})"
        self.call_from_thread(self._status, text)

    # -- actions -----------------------------------------------------------------------------
    def action_pane(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id
        pane = self.query_one(f"#{pane_id}").query_children().first()
        if hasattr(pane, "focus_main"):
            pane.focus_main()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pick_profile(self) -> None:
        if self.lh is None:
            return
        self.push_screen(ProfilePicker(self.lh.profiles()), self._switch_profile)

    def _switch_profile(self, pid: str | None) -> None:
        if pid and self.lh is not None:
            self.notify(f"activating {pid}…", timeout=3)
            self.activate(pid)

    @work(thread=True, exclusive=True, group="activate")
    def activate(self, pid: str) -> None:
        from core.errors import LakehouseError

        def progress(ev) -> None:
            self.call_from_thread(self._status, f"activating [b]{pid}[/]: {ev.message} "
                                                f"({int(ev.done)}/{int(ev.total or 0)})")
        try:
            self.lh.activate(pid, progress=progress)
        except LakehouseError as e:
            self.call_from_thread(self.notify, str(e), severity="error", timeout=10)
            self.call_from_thread(self.refresh_status)
            return
        self.call_from_thread(self._rescoped, pid)

    def _rescoped(self, pid: str) -> None:
        self.notify(f"{pid} is the active profile")
        self.refresh_status()
        for pane in self.panes():
            pane.rescope()

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for pid, title, key in PANES:
            yield SystemCommand(f"{title} pane ({key.upper()})", f"Show the {title} pane",
                                lambda p=pid: self.action_pane(p))
        yield SystemCommand("Switch profile (ctrl+o)", "Pick a profile and activate it", self.action_pick_profile)
        yield SystemCommand("Help (?)", "Every key", self.action_help)
        for pane in self.panes():
            yield from pane.commands()


def run(home=None, config_file=None, profile=None, theme=None, opener=None) -> None:
    LakehouseApp(home, config_file, profile, theme, opener).run()

"""The app's own screens: the help (every key, from the key table) and the profile picker."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from panes.base import FilterPicker
from panes.keys import bindings, key_of, listed


class HelpScreen(ModalScreen):
    """Every key, from the one key table (panes/keys.py); it scrolls, so it fits any size."""

    AUTO_FOCUS = "#help"  # the scroll area: arrows, page keys, home and end scroll it
    BINDINGS = bindings("help")

    def compose(self) -> ComposeResult:
        from rich.table import Table

        sections = listed()
        width = max(len(keys) for _, rows in sections for keys, _ in rows)  # keys on one line; the rest wraps
        with VerticalScroll(id="help"):
            yield Static("[b]Lakehouse — keys[/]   [dim](escape closes; arrows and page keys scroll)[/]")
            for title, rows in sections:
                table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
                table.add_column(style="bold", width=width, no_wrap=True)
                table.add_column(ratio=1)
                for keys, text in rows:
                    table.add_row(keys, text)
                yield Static(title, classes="help-title")
                yield Static(table, classes="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)


class ProfilePicker(FilterPicker):
    """Profiles: 1–9 picks one directly; or type to filter and press enter."""

    heading = (f"Switch profile — 1–9 picks directly; or type to filter, enter to activate · "
               f"{key_of('profiles', 'new_profile')} new, {key_of('profiles', 'edit_profile')} edit, "
               f"{key_of('profiles', 'delete_profile')} delete")
    BINDINGS = bindings("profiles")  # ctrl+n / ctrl+e / ctrl+d: new, edit, delete (app/tui/profiles.py)

    def __init__(self, profiles: list[dict]) -> None:
        self.profiles = profiles
        super().__init__()

    def highlighted(self) -> dict | None:
        from textual.widgets import OptionList

        index = self.query_one(OptionList).highlighted
        pid = self.shown[index][1] if index is not None and self.shown else None
        return next((p for p in self.profiles if p["id"] == pid), None)

    def action_new_profile(self) -> None:
        from app.tui.profiles import new_profile

        new_profile(self.app, then=self.reload)

    def action_edit_profile(self) -> None:
        from app.tui.profiles import edit_profile

        if (p := self.highlighted()) is not None:
            edit_profile(self.app, p["id"], then=self.reload)

    def action_delete_profile(self) -> None:
        from app.tui.profiles import delete_profile

        if (p := self.highlighted()) is not None:
            delete_profile(self.app, p, then=self.reload)

    def reload(self, pid: str | None = None) -> None:
        """The list again, after a profile was saved (`pid`: highlighted then) or deleted."""
        from core.errors import LakehouseError

        def fetch() -> None:
            try:
                profiles = self.app.lh.profiles()
            except LakehouseError:
                return
            self.app.call_from_thread(self._reloaded, profiles, pid)
        self.run_worker(fetch, thread=True, exclusive=True, group="picker-reload")

    def _reloaded(self, profiles: list[dict], pid: str | None) -> None:
        if self.is_attached:
            pid = pid or (self.highlighted() or {}).get("id")
            self.profiles = profiles
            self._fill(self.query_one(Input).value)
            ids = [value for _, value in self.shown]
            if pid in ids:  # the highlight stays where it was, or goes to the profile just saved
                self.query_one("#picker-list").highlighted = ids.index(pid)

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

"""Profiles from the keyboard: the profile editor (create or edit: datasets and indexes
picked from lists or typed as names and globs, models, HNSW and the other settings a
profile has), and delete with a confirmation.

Reached from the profile picker (ctrl+o: ctrl+n new, ctrl+e edit, ctrl+d delete the
highlighted) and from the command palette. Everything goes through the facade (`app.lh`:
in-process, or a daemon's proxy with `tui --connect`): profile_save and profile_delete do
the same checks and the same comment-preserving write of lakehouse.toml as the CLI, and a
refusal is shown as its one sentence with nothing written. Saving the profile this TUI
works as activates it again, so every pane rescopes to what it now sees.
"""

from __future__ import annotations

from rich.segment import Segment
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.strip import Strip
from textual.widgets import Button, Input, Label, Select, SelectionList, Static
from textual.widgets._toggle_button import ToggleButton

from app.tui.screens import ProfilePicker
from panes.base import TextInput, line, literal, said
from panes.keys import bindings

HNSW = ("m", "ef_construction", "ef_search")
EMBEDDERS = ("auto", "ollama", "hashing")
OBJECTIVES = ("p50", "p95", "build", "memory")  # core.trials.front.OBJECTIVES: the core checks them again
# the settings a form cannot clear: profile_save keeps a key it is given no value for
UNCLEARABLE = {"sql_timeout_s": "its SQL time limit (0 = none)", "autotune_min_recall": "its autotune minimum recall",
               "memory": "whether it uses memory"}


class TickList(SelectionList):
    """A SelectionList whose unticked boxes are empty: ticked or not is a mark (X), not
    only a colour (Textual draws the same X in another colour)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        button = segments[1] if len(segments) > 1 else None
        if button is not None and button.text == ToggleButton.BUTTON_INNER and button.style is not None:
            index = button.style.meta.get("option")
            if index is not None and self.get_option_at_index(index).value not in self._selected:
                segments[1] = Segment(" " * len(button.text), button.style)
                return Strip(segments, strip.cell_length)
        return strip


class FormError(ValueError):
    """A field the form cannot turn into a value: its one sentence."""


def split(text: str) -> list[str]:
    """Names and globs typed comma-separated (spaces around them dropped)."""
    return [x.strip() for x in text.split(",") if x.strip()]


def partition(bound: list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """A profile's bindings as (the names ticked in the list, the rest for the text box:
    globs, and names this profile cannot see or that do not exist yet)."""
    return [b for b in bound if b in names], [b for b in bound if b not in names]


def shown(text: str) -> str:
    """A value from the file as a box shows it: control characters visible, never sent."""
    from core.text import inert

    return inert(text)


def number(text: str, what: str, kind=float):
    """A typed number, None when the box is empty; a sentence when it is not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        whole = "a whole number" if kind is int else "a number"
        raise FormError(f"{what} must be {whole}, got {text!r} — correct it and save again") from None


def changes(form: dict, before: dict | None) -> dict:
    """profile_save's `changes` from the form's values (`before`: the profile being edited,
    None when creating). Empty text clears a text setting (back to the config's default);
    the core validates every value as it does the CLI's."""
    datasets = form["datasets"]
    if not datasets:
        raise FormError("datasets: tick at least one, or type a name or glob (* sees every dataset)")
    if not form["indexes"]:
        raise FormError("indexes: tick at least one, or type a name or glob (* searches every index)")
    out = {key: form[key] for key in ("datasets", "indexes")  # the same ones in another order: left as written
           if not before or sorted(set(form[key])) != sorted(set(before[key]))}
    for key in ("description", "chat_model", "embedder", "embed_model", "keep_alive", "sql_memory_limit",
                "autotune_objective"):
        value, was = form[key].strip(), (before or {}).get(key) or ""
        if value == shown(was).strip():  # as the file has it (a control character shown escaped): kept
            continue
        if value or was:  # empty: left out when creating, cleared when editing
            out[key] = value
    hnsw = {k: number(form[k], f"HNSW {k}", int) for k in HNSW}
    hnsw = {k: v for k, v in hnsw.items() if v is not None}
    if hnsw or (before and before.get("hnsw")):  # the whole table: the keys left empty go
        out["hnsw"] = hnsw
    out["sql_timeout_s"] = number(form["sql_timeout_s"], "SQL time limit")
    out["autotune_min_recall"] = number(form["autotune_min_recall"], "autotune minimum recall")
    out["memory"] = {"on": True, "off": False}.get(form["memory"])
    for key, what in UNCLEARABLE.items():
        if out[key] is None and before and before.get(key) is not None:
            raise FormError(f"{what} cannot be emptied here — set a value instead")
    return {k: v for k, v in out.items() if v is not None}


class ProfileEditor(ModalScreen):
    """Create a profile (pid None) or edit profile `pid`. ctrl+s saves; escape closes.
    Dismissed with the saved profile (as profile_show has it), or None."""

    BINDINGS = bindings("profile")
    DEFAULT_CSS = """
    ProfileEditor { align: center middle; }
    #profile-editor { width: 110; max-width: 100%; height: 100%; max-height: 46; border: thick $primary;
                      background: $surface; padding: 0 1; }
    #pe-message { height: auto; max-height: 4; }
    #pe-form { height: 1fr; }
    #pe-form .pe-row { height: 1; }
    #pe-form Label { width: 16; }
    #pe-form Input, #pe-form Select { width: 1fr; }
    #pe-form .pe-short Input { width: 1fr; max-width: 12; }  /* 80 columns: the three HNSW boxes share what is left */
    #pe-form .pe-short Label { width: auto; padding: 0 1 0 2; }
    #pe-form .pe-short Label.pe-first { width: 16; padding: 0; }
    #pe-form SelectionList { height: auto; max-height: 6; margin-left: 16; }
    #pe-form .pe-heading { margin-top: 1; text-style: bold; }
    #pe-models { color: $text-muted; margin-left: 16; }
    #pe-buttons { height: 1; }
    #pe-buttons Button { margin-right: 2; }
    """

    def __init__(self, pid: str | None = None) -> None:
        super().__init__()
        self.pid = pid  # None: a new profile
        self.before: dict | None = None  # the profile being edited, as profile_show has it
        self._saving = False
        self.loaded = False  # the lists and the profile are in: the form takes input

    @property
    def creating(self) -> bool:
        return self.pid is None

    def compose(self) -> ComposeResult:
        def row(title: str, widget, classes: str = "pe-row") -> Horizontal:
            return Horizontal(Label(title), widget, classes=classes)

        def text(wid: str, placeholder: str = "", **kw) -> TextInput:
            return TextInput(placeholder=placeholder, id=wid, compact=True, **kw)

        what = "New profile" if self.creating else f"Edit profile {self.pid}"
        with Vertical(id="profile-editor"):
            yield Static(line((what, "bold"), "  — ctrl+s saves into lakehouse.toml (its comments stay); "
                                              "escape closes; space ticks"))
            yield Static(literal("loading…"), id="pe-message")
            with VerticalScroll(id="pe-form", disabled=True):  # until the lists are in
                if self.creating:
                    yield row("id", text("pe-id", "lowercase letters, digits, - and _"))
                yield row("description", text("pe-description", "what the profile is for"))
                yield Static(literal("datasets it may see"), classes="pe-heading")
                yield TickList(id="pe-datasets")
                yield row("names, globs", text("pe-datasets-globs", "more names or globs, comma-separated (docs_*)"))
                yield Static(literal("indexes it may search"), classes="pe-heading")
                yield TickList(id="pe-indexes")
                yield row("names, globs", text("pe-indexes-globs", "more names or globs, comma-separated (* = all)"))
                yield Static(literal("models"), classes="pe-heading")
                yield row("chat model", text("pe-chat_model", "empty: [ollama] chat_model"))
                yield row("embedder", Select([(e, e) for e in EMBEDDERS], prompt="empty: the config's embedder",
                                             id="pe-embedder", compact=True))
                yield row("embed model", text("pe-embed_model", "empty: [ollama] embed_model"))
                yield Static("", id="pe-models")
                yield row("keep alive", text("pe-keep_alive", "empty: [ollama] keep_alive (e.g. 10m)"))
                yield Static(literal("HNSW (empty: [vectors] hnsw_*)"), classes="pe-heading")
                yield Horizontal(Label("m", classes="pe-first"), text("pe-m", "config", type="integer"),
                                 Label("ef_construction"), text("pe-ef_construction", "config", type="integer"),
                                 Label("ef_search"), text("pe-ef_search", "config", type="integer"),
                                 classes="pe-row pe-short")
                yield Static(literal("queries, autotune and memory"), classes="pe-heading")
                yield row("SQL time limit", text("pe-sql_timeout_s", "seconds, 0 = none; empty: [sql] timeout_s",
                                                 type="number"))
                yield row("SQL memory", text("pe-sql_memory_limit", "e.g. 2GB; empty: [sql] memory_limit"))
                yield row("min recall", text("pe-autotune_min_recall", "above 0, at most 1; empty: [trials]",
                                             type="number"))
                yield row("objective", Select([(o, o) for o in OBJECTIVES], prompt="empty: the config's objective",
                                              id="pe-autotune_objective", compact=True))
                yield row("memory", Select([("on", "on"), ("off", "off")],
                                           prompt="empty: the config's memory search / ask", id="pe-memory",
                                           compact=True))
            with Horizontal(id="pe-buttons"):
                yield Button("Save (ctrl+s)", id="pe-save", compact=True)
                yield Button("Close (escape)", id="pe-close", compact=True)

    def on_mount(self) -> None:
        self.load()
        self.load_models()

    # -- loading -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="profile-load")
    def load(self) -> None:
        """The datasets and indexes this TUI's profile sees (the lists to tick), and the
        profile being edited."""
        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            datasets = sorted(d.name for d in lh.datasets())
            indexes = sorted(i.name for i in lh.indexes())
            before = None if self.creating else lh.profile_show(self.pid)
        except LakehouseError as e:
            self.app.call_from_thread(self._message, line(("cannot load: ", "bold"), said(e)))
            return
        self.app.call_from_thread(self._fill, datasets, indexes, before)

    def _fill(self, datasets: list[str], indexes: list[str], before: dict | None) -> None:
        self.before = before
        p = before or {"datasets": [], "indexes": ["*"], "hnsw": {}}
        for wid, names, bound in (("datasets", datasets, p["datasets"]), ("indexes", indexes, p["indexes"])):
            ticked, rest = partition(bound, names)
            options = self.query_one(f"#pe-{wid}", SelectionList)
            options.add_options([(literal(n), n, n in ticked) for n in names])
            options.highlighted = 0 if names else None  # space ticks the first one at once
            options.display = bool(names)  # none to tick: the names box alone
            self.query_one(f"#pe-{wid}-globs", Input).value = ", ".join(rest)
        if before:
            for key in ("description", "chat_model", "embed_model", "keep_alive", "sql_memory_limit"):
                self._input(key).value = shown(before.get(key) or "")
            for key in HNSW:
                self._input(key).value = str(before["hnsw"].get(key, ""))
            for key in ("sql_timeout_s", "autotune_min_recall"):
                self._input(key).value = "" if before.get(key) is None else f"{before[key]:g}"
            for key, value in (("embedder", before.get("embedder")), ("autotune_objective",
                                                                      before.get("autotune_objective")),
                               ("memory", {True: "on", False: "off"}.get(before.get("memory")))):
                if value:
                    self.query_one(f"#pe-{key}", Select).value = value
        empty = "" if datasets else " (this profile sees no dataset yet: type names or globs)"
        self._message(literal(f"tick with space; names and globs may be typed too{empty}"))
        self.query_one("#pe-form").disabled = False
        self.loaded = True
        self.set_focus(self.query_one("#pe-id" if self.creating else "#pe-description", Input))

    @work(thread=True, exclusive=True, group="profile-models")
    def load_models(self) -> None:
        """Ollama's installed models as suggestions (→ completes); free text without Ollama."""
        from core.errors import LakehouseError

        try:
            names = sorted(m["name"] for m in self.app.lh.models()["installed"])
        except LakehouseError:
            names = []
        self.app.call_from_thread(self._models, names)

    def _models(self, names: list[str]) -> None:
        if names:
            for key in ("chat_model", "embed_model"):
                self._input(key).suggester = SuggestFromList(names, case_sensitive=False)
            note = f"Ollama has {len(names)} model{'s' if len(names) != 1 else ''}: type and → completes"
        else:
            note = "Ollama does not answer or has no models: type a model name"
        self.query_one("#pe-models", Static).update(literal(note))

    # -- saving ------------------------------------------------------------------------------
    def _input(self, key: str) -> Input:
        return self.query_one(f"#pe-{key}", Input)

    def _select(self, key: str) -> str:
        value = self.query_one(f"#pe-{key}", Select).value
        return value if isinstance(value, str) else ""

    def _message(self, text) -> None:
        self.query_one("#pe-message", Static).update(text if isinstance(text, Content) else literal(text))

    def form(self) -> dict:
        """The form's values as typed and ticked."""
        out = {key: self._input(key).value for key in ("description", "chat_model", "embed_model", "keep_alive",
                                                       "sql_memory_limit", "sql_timeout_s", "autotune_min_recall",
                                                       *HNSW)}
        out.update({key: self._select(key) for key in ("embedder", "autotune_objective", "memory")})
        for key in ("datasets", "indexes"):  # ticked, then typed; a name ticked and typed once
            ticked = list(self.query_one(f"#pe-{key}", SelectionList).selected)
            out[key] = list(dict.fromkeys(ticked + split(self.query_one(f"#pe-{key}-globs", Input).value)))
        return out

    def action_save(self) -> None:
        if self._saving or not self.loaded:
            return
        pid = self._input("id").value.strip() if self.creating else self.pid
        if not pid:
            self._refused("id: type the new profile's name (lowercase letters, digits, - and _)")
            return
        try:
            wanted = changes(self.form(), self.before)
        except FormError as e:
            self._refused(str(e))
            return
        self._saving = True
        self._message(literal(f"saving profile {pid}…"))
        self.save(pid, wanted)

    @work(thread=True, exclusive=True, group="profile-save")
    def save(self, pid: str, wanted: dict) -> None:
        from core.errors import LakehouseError

        try:
            saved = self.app.lh.profile_save(pid, wanted, create=self.creating)
        except LakehouseError as e:
            self.app.call_from_thread(self._refused, said(e))
            return
        self.app.call_from_thread(self._saved, saved)

    def _saved(self, saved: dict) -> None:
        if self.is_attached:
            self.dismiss(saved)

    def _refused(self, sentence: str) -> None:
        self._saving = False
        self._message(line(("not saved: ", "bold red"), sentence))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save() if event.button.id == "pe-save" else self.action_close()

    def action_close(self) -> None:
        if self._saving:  # the write takes a moment; closing now would hide whether it happened
            self._message(literal("saving… the result shows in a moment"))
            return
        self.dismiss(None)


# -- the flows: from the profile picker's keys and from the command palette ------------------
class ProfileChooser(ProfilePicker):
    """Which profile to edit or delete, from the palette: enter (or 1–9) picks it."""

    def __init__(self, profiles: list[dict], purpose: str) -> None:
        self.heading = f"{purpose} which profile? — 1–9 picks directly; or type to filter, enter picks"
        super().__init__(profiles)


def refusal(app, what: str) -> str | None:
    """Why this TUI's profile may not do `what` ("creating profiles"), or None: a restricted
    profile is told before it fills a form (the core refuses the save the same way)."""
    from core.access import require_admin
    from core.errors import LakehouseError

    if app.lh is None:
        return "the storage root is still opening — try again in a moment"
    try:
        require_admin(app.lh.profile, what)
    except LakehouseError as e:
        return said(e)
    return None


def _allowed(app, what: str) -> bool:
    sentence = refusal(app, what)
    if sentence:
        app.notify(sentence, severity="error", timeout=10)
    return sentence is None


def new_profile(app, then=None) -> None:
    """The editor for a new profile; `then()` after it is saved (the picker reloads)."""
    if _allowed(app, "creating profiles"):
        app.push_screen(ProfileEditor(), lambda p: _saved(app, p, then))


def edit_profile(app, pid: str, then=None) -> None:
    if _allowed(app, "editing profiles"):
        app.push_screen(ProfileEditor(pid), lambda p: _saved(app, p, then))


def _saved(app, p: dict | None, then) -> None:
    if p is None:
        return
    app.notify(f"saved profile {p['id']} into lakehouse.toml")
    for problem in p["problems"]:
        app.notify(problem, severity="warning", timeout=8)
    if then is not None:
        then(p["id"])
    if p["current"]:  # this TUI works as it: activated again, every pane sees what it sees now
        app.activate(p["id"])


def delete_profile(app, p: dict, then=None) -> None:
    """Ask, naming the profile, then delete it; never the active profile."""
    from panes.keys import key_of
    from panes.trials import Confirm

    if not _allowed(app, "deleting profiles"):
        return
    pid = p["id"]
    if p["current"] or p["active"]:
        app.notify(f"profile {pid} is the active profile and cannot be deleted — switch to another one first "
                   f"({key_of('app', 'pick_profile')})", severity="error", timeout=10)
        return

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(lambda: _delete(app, pid, then), thread=True, group="profile-delete")
    app.push_screen(Confirm(f"Delete profile {pid}? Its [profiles.{pid}] table leaves lakehouse.toml; "
                            "the rest of the file stays as it is."), answered)


def _delete(app, pid: str, then) -> None:
    """In a thread worker: the delete, and what it says."""
    from core.errors import LakehouseError

    try:
        note = app.lh.profile_delete(pid)
    except LakehouseError as e:
        app.call_from_thread(app.notify, said(e), severity="error", timeout=10)
        return
    app.call_from_thread(app.notify, note)
    if then is not None:
        app.call_from_thread(then)


def choose(app, purpose: str) -> None:
    """From the palette: pick the profile to edit or delete ("Edit" or "Delete"), then do it."""
    from core.errors import LakehouseError

    if not _allowed(app, {"Edit": "editing profiles", "Delete": "deleting profiles"}[purpose]):
        return

    def pick() -> None:
        try:
            profiles = app.lh.profiles()
        except LakehouseError as e:
            app.call_from_thread(app.notify, said(e), severity="error", timeout=10)
            return
        by_id = {p["id"]: p for p in profiles}

        def chosen(pid: str | None) -> None:
            if pid is None:
                return
            edit_profile(app, pid) if purpose == "Edit" else delete_profile(app, by_id[pid])
        app.call_from_thread(app.push_screen, ProfileChooser(profiles, purpose), chosen)
    app.run_worker(pick, thread=True, group="profile-choose")

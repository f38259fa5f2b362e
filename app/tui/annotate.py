"""Governance and maintenance of a dataset from Explore: annotate it (description, owner,
tags; the description drafted by the chat model on ctrl+g), tag one column's sensitivity
with a reason, compact it (with vacuum: asks first) and resync its catalog facts.

Explore posts `Govern` (panes/messages.py) and the app hands it to `govern` here. All
work goes through the facade (`app.lh`: in-process or a daemon's proxy) in thread
workers. Descriptions, owners, tags, evidence, policies and error sentences come from
users, files and models: shown as literal, inert text (panes.base), never markup; a value
loaded into a box is made inert too, and a box left as loaded is not written back, so
such a value is never rewritten by a save that did not touch it.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static, TextArea

from core.text import inert
from panes.base import TextInput, line, literal, said
from panes.keys import bindings
from panes.messages import DatasetsChanged, Govern
from panes.trials import Confirm

CHOICES = ("pii", "financial", "health", "none")  # core.governance.tag_ops.CHOICES, in this order


def split_tags(text: str) -> list[str]:
    """'hr, people ,' -> ['hr', 'people']: the tags box is comma-separated."""
    return [t.strip() for t in text.split(",") if t.strip()]


def policy_line(pol: dict, dataset: str) -> Content | None:
    """What the policies binding this profile do to `dataset`, or None when none binds it."""
    if not pol.get("policies"):
        return None
    names = ", ".join(p["name"] for p in pol["policies"])
    here = next((d["summary"] for d in pol.get("datasets", []) if d["dataset"] == dataset), "")
    return line(("policy: ", "bold"), f"profile {pol['profile']} is bound by {names}",
                f" — here it {here}" if here else f" — it does not shape {dataset}")


class _Form(ModalScreen):
    """What both screens share: a status line, a policy line, a save that runs in a worker."""

    _app = None  # the app, kept: a closed screen's workers cannot reach it through self.app

    def on_mount(self) -> None:
        self._app = self.app
        self.load()

    def load(self) -> None:
        raise NotImplementedError

    def back(self, fn, *args) -> None:
        """From a worker: `fn(*args)` on the event loop, unless the screen was closed meanwhile
        (escape while a draft or a save was on its way: its widgets are gone)."""
        def call() -> None:
            if self.is_attached:
                fn(*args)
        try:
            self._app.call_from_thread(call)
        except RuntimeError:  # the app has quit meanwhile
            pass

    def changed(self, note: str) -> None:
        """From a worker, once a change is written: said and Explore reloaded even when the
        screen was closed meanwhile; the screen (if still open) closes."""
        try:
            self._app.call_from_thread(self._app.notify, note)
            self._app.call_from_thread(self._app.post_message, DatasetsChanged())
        except RuntimeError:  # the app has quit meanwhile: the change is written, nothing to show
            return
        self.back(self.dismiss, note)

    def status(self, text) -> None:
        self.query_one(".gov-status", Static).update(text if isinstance(text, Content) else literal(text))

    def show_policy(self, pol: dict, dataset: str) -> None:
        """The policy line, or no line at all when no policy binds the profile."""
        shown = policy_line(pol, dataset)
        box = self.query_one(".gov-policy", Static)
        box.update(shown or "")
        box.display = shown is not None

    def refused(self, e: Exception) -> None:
        self.status(line(("refused: ", "bold"), said(e)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        getattr(self, f"action_{event.button.name}")()

    def action_close(self) -> None:
        self.dismiss(None)


class AnnotateScreen(_Form):
    """A dataset's description, owner and tags. ctrl+r saves; ctrl+g drafts the description."""

    AUTO_FOCUS = "#annotate-description"
    BINDINGS = bindings("annotate")

    def __init__(self, dataset: str) -> None:
        super().__init__()
        self.dataset = dataset
        self._loaded: dict | None = None  # the boxes as loaded: what a save leaves alone
        self._drafted = False  # the description in the box is the model's draft
        self._drafting = False

    def compose(self) -> ComposeResult:
        with Vertical(id="annotate", classes="gov-form"):
            yield Static(line(("Annotate ", "bold"), (self.dataset, "bold"),
                              "  — ctrl+r saves · ctrl+g drafts the description · escape closes"))
            yield Static("", id="annotate-policy", classes="gov-policy")
            yield Static(literal("description"), id="annotate-description-label")
            yield TextArea(id="annotate-description", soft_wrap=True, show_line_numbers=False,
                           tab_behavior="focus", disabled=True)
            with Horizontal(classes="gov-row"):
                yield Label("owner")
                yield TextInput(placeholder="who answers for it", id="annotate-owner", compact=True, disabled=True)
            with Horizontal(classes="gov-row"):
                yield Label("tags")
                yield TextInput(placeholder="comma-separated, e.g. hr, finance", id="annotate-tags", compact=True,
                                disabled=True)
            with Horizontal(classes="gov-buttons"):
                yield Button("Save (ctrl+r)", name="save", compact=True)
                yield Button("Draft (ctrl+g)", name="draft", compact=True)
                yield Button("Close (escape)", name="close", compact=True)
            yield Static(literal(f"reading {self.dataset}…"), classes="gov-status")

    @work(thread=True, exclusive=True, group="annotate-load")
    def load(self) -> None:
        from core.errors import LakehouseError

        try:
            desc = self._app.lh.describe(self.dataset, sample_rows=0)
            pol = self._app.lh.policy()
        except LakehouseError as e:
            self.back(self.refused, e)
            return
        self.back(self._fill, desc, pol)

    def _fill(self, desc, pol: dict) -> None:
        d = desc.dataset
        self._loaded = {"description": inert(d.description or "", tabs=True), "owner": inert(d.owner or ""),
                        "tags": inert(", ".join(d.tags))}
        self._drafted = desc.description_drafted
        area = self.query_one("#annotate-description", TextArea)
        area.text = self._loaded["description"]
        self.query_one("#annotate-owner", Input).value = self._loaded["owner"]
        self.query_one("#annotate-tags", Input).value = self._loaded["tags"]
        for w in (area, self.query_one("#annotate-owner"), self.query_one("#annotate-tags")):
            w.disabled = False
        area.focus()
        self._label()
        self.show_policy(pol, d.name)
        self.status(f"{d.name}: edit and press ctrl+r to save")

    def _label(self, model: str = "") -> None:
        drafted = (f" (drafted by {model}" if model else " (drafted") + " — saving makes it yours)"
        self.query_one("#annotate-description-label", Static).update(
            line("description", (drafted, "italic") if self._drafted else ""))

    # -- draft ---------------------------------------------------------------------------
    def action_draft(self) -> None:
        if self._loaded is None or self._drafting:
            return
        self._drafting = True
        self.status("drafting a description with the chat model… (escape closes; the draft is stored when it comes)")
        self.draft()

    @work(thread=True, exclusive=True, group="annotate-draft")
    def draft(self) -> None:
        from core.errors import LakehouseError

        try:
            out = self._app.lh.draft_description(self.dataset)
        except LakehouseError as e:
            self.back(self._draft_failed, e)
            return
        try:  # Explore shows it, marked drafted (also when the screen was closed meanwhile)
            self._app.call_from_thread(self._app.post_message, DatasetsChanged())
        except RuntimeError:
            return
        self.back(self._draft_done, out)

    def _draft_failed(self, e: Exception) -> None:
        self._drafting = False
        self.status(line(("no draft: ", "bold"), said(e)))

    def _draft_done(self, out: dict) -> None:
        """The draft in the box, to edit; the core stored it already, marked drafted."""
        self._drafting = False
        self._drafted = True
        text = inert(out["description"], tabs=True)
        self._loaded["description"] = text  # stored as the draft: unchanged, a save accepts it
        self.query_one("#annotate-description", TextArea).text = text
        self._label(out.get("model", ""))
        self.status(line(("drafted", "bold"), " — stored marked as drafted; edit it and press ctrl+r to make it yours"))

    # -- save ----------------------------------------------------------------------------
    def changes(self) -> dict:
        """The fields that differ from what was loaded (a draft counts as changed: saving accepts it)."""
        text = self.query_one("#annotate-description", TextArea).text
        owner = self.query_one("#annotate-owner", Input).value
        tags = self.query_one("#annotate-tags", Input).value
        out = {}
        if text != self._loaded["description"] or (self._drafted and text.strip()):
            out["description"] = text.strip()
        if owner != self._loaded["owner"]:
            out["owner"] = owner.strip()
        if split_tags(tags) != split_tags(self._loaded["tags"]):
            out["tags"] = split_tags(tags)
        return out

    def action_save(self) -> None:
        if self._loaded is None:
            return
        fields = self.changes()
        if not fields:
            self.status("nothing changed — edit a box first, or escape to close")
            return
        self.status("saving…")
        self.save(fields)

    @work(thread=True, exclusive=True, group="annotate-save")
    def save(self, fields: dict) -> None:
        from core.errors import LakehouseError

        try:
            self._app.lh.annotate(self.dataset, **fields)
        except LakehouseError as e:
            self.back(self.refused, e)
            return
        self.changed(f"{self.dataset}: {', '.join(fields)} saved")


class TagScreen(_Form):
    """One column's sensitivity: its tag now with the evidence, a choice and a reason."""

    AUTO_FOCUS = "#tag-choice"
    BINDINGS = bindings("tag")

    def __init__(self, dataset: str, column: str) -> None:
        super().__init__()
        self.dataset, self.column = dataset, column
        self._ready = False

    def compose(self) -> ComposeResult:
        with Vertical(id="tag", classes="gov-form"):
            yield Static(line(("Tag ", "bold"), (f"{self.dataset}.{self.column}", "bold"),
                              "  — ctrl+r saves · escape closes"))
            yield Static(literal("now: …"), id="tag-now")
            yield Static("", id="tag-policy", classes="gov-policy")
            with RadioSet(id="tag-choice"):
                for c in CHOICES:
                    yield RadioButton(c, name=c)
            with Horizontal(classes="gov-row"):
                yield Label("reason")
                yield TextInput(placeholder="why (kept with the tag and in the audit)", id="tag-reason",
                                compact=True)
            with Horizontal(classes="gov-row"):
                yield Label("actor")
                yield TextInput(placeholder="you (from the config, else your login)", id="tag-actor", compact=True)
            with Horizontal(classes="gov-buttons"):
                yield Button("Save (ctrl+r)", name="save", compact=True)
                yield Button("Close (escape)", name="close", compact=True)
            yield Static(literal("pick pii, financial, health or none (none clears what the scan found)"),
                         classes="gov-status")

    @work(thread=True, exclusive=True, group="tag-load")
    def load(self) -> None:
        from core.errors import LakehouseError

        try:
            tags = self._app.lh.tags(self.dataset)
            pol = self._app.lh.policy()
        except LakehouseError as e:
            self.back(self.refused, e)
            return
        self.back(self._fill, next((t for t in tags if t.column == self.column), None), pol)

    def _fill(self, t, pol: dict) -> None:
        if t is None:
            now = line(("now: untagged", "bold"), " — the scan found nothing and nobody set a tag")
        else:
            evidence = t.evidence()
            now = line((f"now: {t.tag or 'none'}", "bold"), f" — {evidence}" if evidence else "")
        self.query_one("#tag-now", Static).update(now)
        self.show_policy(pol, self.dataset)
        self._current = (t.tag or "none") if t is not None else "none"
        for b in self.query(RadioButton):
            b.value = b.name == self._current
        self._ready = True
        self._chosen()

    _current = "none"

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if self._ready:
            self._chosen()

    def _chosen(self) -> None:
        """The choice in words (the radio buttons' dots differ by colour alone)."""
        choice = self._choice()
        same = " (as now)" if choice == self._current else ""
        self.status(line(("chosen: ", "bold"), (f"{choice}{same}", "bold"), " — ctrl+r saves it with the reason"))

    def _choice(self) -> str | None:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        choice = self._choice()
        if not self._ready or choice is None:
            return
        reason = self.query_one("#tag-reason", Input).value.strip()
        actor = self.query_one("#tag-actor", Input).value.strip() or None
        self.status(f"tagging {self.column} {choice}…")
        self.save(choice, reason, actor)

    @work(thread=True, exclusive=True, group="tag-save")
    def save(self, choice: str, reason: str, actor: str | None) -> None:
        from core.errors import LakehouseError

        try:
            t = self._app.lh.tag(self.dataset, self.column, choice, reason=reason, actor=actor)
        except LakehouseError as e:
            self.back(self.refused, e)
            return
        self.changed(f"{t.dataset}.{t.column}: {t.tag or 'none'} ({t.evidence()})")


# -- what Explore asks for (panes.messages.Govern), routed here by the app ------------------
def govern(app, msg: Govern) -> None:
    if app.lh is None:
        app.notify("the storage root is still opening — try again in a moment", severity="warning")
    elif msg.action == "annotate":
        app.push_screen(AnnotateScreen(msg.dataset))
    elif msg.action == "tag":
        app.push_screen(TagScreen(msg.dataset, msg.column))
    elif msg.action == "compact":
        retain = _retention(app.lh)
        app.push_screen(Confirm(
            f"Compact {msg.dataset}? Its small files are merged into fewer, as a new version (the rows do not "
            f"change). Then vacuum deletes the files no version newer than {retain} still uses: time travel "
            f"(as-of queries, restore) to versions older than {retain} that need them stops working."),
            lambda yes: yes and _maintain(app, "compact", msg.dataset))
    elif msg.action == "resync":
        app.push_screen(Confirm(
            f"Resync {msg.dataset}? Its row count, size and columns are read again from its table; a commit in "
            "its log that lakehouse did not write (another tool's) is adopted as its current state."),
            lambda yes: yes and _maintain(app, "resync", msg.dataset))


def _retention(lh) -> str:
    """How long vacuum keeps unused files, in words (a daemon's config, or this process's)."""
    try:
        return f"{int(lh.config.get('tables.vacuum_retain_hours'))} h"
    except (AttributeError, KeyError, TypeError, ValueError):  # an older daemon's session
        return "the retention (tables.vacuum_retain_hours)"


def _maintain(app, op: str, dataset: str) -> None:
    app.notify(f"{'compacting' if op == 'compact' else 'resyncing'} {dataset}…", timeout=3)
    app.run_worker(lambda: _run(app, op, dataset), thread=True, group=f"govern-{op}")


def _run(app, op: str, dataset: str) -> None:
    """In a thread worker: the operation, its outcome in words, Explore reloaded."""
    from core.errors import LakehouseError

    try:
        if op == "compact":
            r = app.lh.compact(dataset, vacuum=True)
            note = (f"{dataset} compacted: {r['files_before']} → {r['files_after']} data files (version "
                    f"{r['table_version']}); vacuum removed {r.get('vacuumed_files', 0)} unused file(s) older "
                    f"than {r.get('retain_hours', '?')} h")
        else:
            notes = app.lh.resync(dataset)
            note = f"{dataset} resynced: " + ("; ".join(notes) if notes else "the catalog already matched its table")
    except LakehouseError as e:
        note = None
        refusal = f"{op} {dataset} refused: {said(e)}"
    try:
        if note is None:
            app.call_from_thread(app.notify, refusal, severity="error", timeout=10)
            return
        app.call_from_thread(app.notify, note, timeout=8)
        app.call_from_thread(app.post_message, DatasetsChanged())
    except RuntimeError:  # the app has quit meanwhile: the outcome is in the audit log
        pass

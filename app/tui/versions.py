"""A dataset's versions, and restoring one after seeing what it would change.

The versions screen lists each version newest first: when, the operation, who and why,
its row count and what it changed. enter on a version opens its restore preview
(`restore_preview`: rows brought back, removed and changed, by key when the dataset has
one, a few examples, the columns it adds, removes or retypes); ctrl+r there restores it
with the actor and reason typed — a new version, history kept. Through the facade
(`app.lh`), in-process or a daemon's proxy; everything shown is literal text.
"""

from __future__ import annotations

import json

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from app.tui.records import _cut, _row, _user
from core.errors import LakehouseError
from core.text import count
from panes.base import FilterPicker, TextInput, label, line, literal, said
from panes.keys import bindings
from panes.messages import DatasetsChanged

EXAMPLE_WIDTH = 160  # an example row longer than this is cut, with an ellipsis


def changed_text(v: dict) -> str:
    """What a version changed, in words (never a colour or a sign alone)."""
    parts = [f"{v[k]:,} {w}" for k, w in (("rows_added", "added"), ("rows_updated", "updated"),
                                          ("rows_deleted", "deleted")) if v.get(k)]
    return ", ".join(parts) or "no rows"


class VersionsScreen(ModalScreen):
    """Every version of one dataset; enter previews restoring the highlighted one."""

    AUTO_FOCUS = "#versions-table"
    BINDINGS = bindings("versions")

    def __init__(self, dataset: str) -> None:
        super().__init__()
        self.dataset = dataset
        self.versions: list[dict] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="versions", classes="record-list"):
            yield Static(line(("Versions ", "bold"), f"of {self.dataset}",
                              "  — enter previews restoring one · escape closes"))
            yield DataTable(id="versions-table", cursor_type="row", zebra_stripes=True)
            yield Static(literal("reading the versions…"), id="versions-message")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # what a narrow terminal shows first: which, when, and what it changed
        table.add_columns(*(label(c) for c in ("version", "when", "rows", "what changed", "operation", "actor",
                                              "reason")))
        self.load()

    @work(thread=True, exclusive=True, group="versions-load")
    def load(self) -> None:
        try:
            versions = self.app.lh.versions(self.dataset)
        except (LakehouseError, OSError) as e:
            self.app.call_from_thread(self._say, said(e))
            return
        self.app.call_from_thread(self._fill, versions)

    def _say(self, text: str) -> None:
        if self.is_attached:
            self.query_one("#versions-message", Static).update(literal(text))

    def _fill(self, versions: list[dict]) -> None:
        if not self.is_attached:  # closed while the versions were read
            return
        self.versions = list(reversed(versions))  # newest first
        table = self.query_one(DataTable)
        table.clear()
        for v in self.versions:
            current = " (current)" if v is self.versions[0] else ""
            table.add_row(label(f"v{v['version']}{current}"), label(v["timestamp"][:19].replace("T", " ")),
                          label(f"{v['rows']:,}"), label(changed_text(v)),
                          label(" · ".join(x for x in (v["operation"], v.get("source")) if x)),
                          label(v.get("actor") or ""), label(_cut(v.get("reason") or "", 40)), key=str(v["version"]))
        self._say(f"{count(len(versions), 'version')} — enter on one shows what restoring it would change"
                  if versions else "no versions: the dataset has no table yet")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if not self.versions:
            return
        version = int(event.row_key.value)
        self.app.push_screen(RestoreScreen(self.dataset, version, self.versions[0]["version"]), self._restored)

    def _restored(self, result) -> None:
        if result is not None:
            self.app.notify(result.message)
            self.app.post_message(DatasetsChanged())
            self.load()

    def action_close(self) -> None:
        self.dismiss(None)


class RestoreScreen(ModalScreen):
    """What restoring `version` would change; ctrl+r restores it with a reason. Dismissed
    with the MutationResult, or None."""

    AUTO_FOCUS = "#restore-reason"
    BINDINGS = bindings("restore")

    def __init__(self, dataset: str, version: int, current: int) -> None:
        super().__init__()
        self.dataset, self.version, self.current = dataset, version, current
        self.preview: dict | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="restore", classes="record-list"):
            yield Static(line(("Restore ", "bold"), f"{self.dataset} to version {self.version}",
                              f" (now version {self.current})"))
            with VerticalScroll(id="restore-box"):
                yield Static(literal(f"computing what restoring version {self.version} would change…"),
                             id="restore-preview")
            yield from _row("actor", TextInput(_user(), placeholder="who (your login)", id="restore-actor",
                                               compact=True))
            yield from _row("reason", TextInput(placeholder="why (kept in the history)", id="restore-reason",
                                                compact=True))
            yield Static(literal("ctrl+r restores it (a new version; nothing is lost) · escape goes back"),
                         id="restore-message")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="restore-preview")
    def load(self) -> None:
        try:
            p = self.app.lh.restore_preview(self.dataset, version=self.version)
        except (LakehouseError, OSError) as e:
            self.app.call_from_thread(self._show, None, said(e))
            return
        self.app.call_from_thread(self._show, p, "")

    def _show(self, p: dict | None, error: str) -> None:
        shown = self.query("#restore-preview")
        if not self.is_attached or not shown:  # escape while the preview was computed (mid-removal too)
            return
        self.preview = p
        shown.first(Static).update(literal(error, "bold") if p is None else preview_text(p))

    def _say(self, text: str, error: bool = True) -> None:
        msg = self.query_one("#restore-message", Static)
        msg.set_class(error, "error")
        msg.update(line(("refused: ", "bold") if error else "", text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "restore-actor":
            self.query_one("#restore-reason", Input).focus()

    def action_restore(self) -> None:
        if self._busy:
            return
        p = self.preview
        if p is None:
            self._say("the preview is not there yet (or failed): restore after seeing what it would change")
            return
        if p["version"] == p["current_version"]:
            self._say(f"version {p['version']} is the current one: there is nothing to restore")
            return
        reason = self.query_one("#restore-reason", Input).value.strip()
        if not reason:
            self._say("a reason is needed: it is kept in the history, with who and when")
            return
        self._busy = True
        self._say(f"restoring version {self.version}…", error=False)
        self.restore(self.query_one("#restore-actor", Input).value.strip() or None, reason)

    @work(thread=True, exclusive=True, group="restore-run")
    def restore(self, actor: str | None, reason: str) -> None:
        try:
            result = self.app.lh.restore(self.dataset, version=self.version, actor=actor, reason=reason)
        except (LakehouseError, OSError) as e:
            self.app.call_from_thread(self._refused, said(e))
            return
        self.app.call_from_thread(self.dismiss, result)

    def _refused(self, text: str) -> None:
        self._busy = False
        if self.is_attached:
            self._say(text)

    def action_close(self) -> None:
        if not self._busy:
            self.dismiss(None)


def preview_text(p: dict) -> Content:
    """A restore preview in words: its sentence, the counts, the columns, then examples."""
    lines = [literal(p["summary"], "bold")]
    if p["version"] != p["current_version"]:
        counts = [f"{p['added']:,} brought back", f"{p['removed']:,} removed"]
        if p["key"]:
            counts.append(f"{p['changed']:,} changed")
        lines.append(literal("rows: " + ", ".join(counts) + (f" (matched by key {', '.join(p['key'])})" if p["key"]
                                                             else " (whole rows: no primary key)")))
    s = p["schema"]
    lines += [literal(f"column {c['column']} ({c['type']}) comes back") for c in s["added"]]
    lines += [literal(f"column {c['column']} ({c['type']}) goes") for c in s["removed"]]
    lines += [literal(f"column {c['column']}: {c['now']} → {c['after']}") for c in s["retyped"]]
    ex = p["examples"]
    for title, rows in (("brought back", ex["added"]), ("removed", ex["removed"])):
        if rows:
            lines.append(line((f"{title} (first {len(rows)}):", "bold")))
            lines += [literal("  " + _cut(json.dumps(r, ensure_ascii=False, default=str), EXAMPLE_WIDTH)) for r in rows]
    if ex["changed"]:
        lines.append(line((f"changed (first {len(ex['changed'])}): now → after", "bold")))
        for rec in ex["changed"]:
            for ch in rec["changes"]:
                lines.append(literal(_cut(f"  {rec['key']}: {ch['field']} {_v(ch['old'])} → {_v(ch['new'])}",
                                          EXAMPLE_WIDTH)))
    return Content("\n").join(lines)


def _v(value) -> str:
    return "∅" if value is None else repr(value)


class DatasetPicker(FilterPicker):
    """A dataset to show the versions of (the palette, away from Explore)."""

    heading = "Versions of which dataset? — type to filter, enter picks"

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__()

    def choices(self, text: str) -> list[tuple[str, object]]:
        return [(n, n) for n in self.names if text.lower() in n.lower()]


def open_versions(app, dataset: str | None) -> None:
    """The versions of `dataset`, or a picker of the datasets first."""
    if dataset:
        app.push_screen(VersionsScreen(dataset))
        return

    def fetch() -> None:
        try:
            names = [d.name for d in app.lh.datasets()]
        except (LakehouseError, OSError) as e:
            app.call_from_thread(app.notify, said(e), severity="error", timeout=10)
            return
        if not names:
            app.call_from_thread(app.notify, "no datasets yet: ingest one (ctrl+f) first", severity="warning")
            return
        app.call_from_thread(app.push_screen, DatasetPicker(names),
                             lambda name: name and app.push_screen(VersionsScreen(name)))
    if app.lh is not None:
        app.run_worker(fetch, thread=True, group="versions-pick", exclusive=True)

"""Records in a result grid: edit a cell or delete a row with an actor and a reason, and
a record's history (who, when, old → new, why).

A grid (panes/grid.py) says which cell and where its rows came from; this module decides
whether that row is one record of one keyed dataset: Explore's sample of a dataset is,
and a SQL result is when its statement is one plain SELECT from one dataset with the
key columns in the result (core/query/edit_source.py, DuckDB's own parser). Otherwise
one sentence says why not and how to edit instead. Everything goes through the facade
(`app.lh`): in-process or a daemon's proxy alike. Values, names and error sentences are
literal text, never markup.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from core.errors import LakehouseError
from core.query.engine import SYSTEM_TABLES
from core.text import inert_in_place
from panes.base import TextInput, label, line, literal, said
from panes.keys import bindings, key_of
from panes.messages import DatasetsChanged, RecordAction

LONGEST_EDIT = 4000  # characters a value may have to be edited in the value box


@dataclass
class Target:
    """One record of a keyed dataset, reached from a grid's cell."""

    dataset: str
    key_columns: list[str]
    key_values: list[str]
    column: str | None  # the dataset column of the cell (None: computed by the query)
    value: object  # the cell's exact value
    row: dict  # the row as the grid has it
    source: tuple

    @property
    def key(self):
        """The key as the facade takes it: text, or a list of texts for a composite key."""
        return self.key_values[0] if len(self.key_values) == 1 else list(self.key_values)

    @property
    def key_text(self) -> str:
        """The key as the journal names the record ("1", "a,b")."""
        return ",".join(self.key_values)

    def shown_key(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in zip(self.key_columns, self.key_values))


def as_text(value) -> str:
    """A cell's value as the facade takes it back (None: "null", as the CLI's --set)."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def resolve(lh, msg: RecordAction) -> Target:
    """The record a grid's cell belongs to, or a NotRecords/LakehouseError sentence."""
    from core.query.edit_source import ONE_DATASET, NotRecords, edit_source

    if msg.source[0] == "sql":
        src = edit_source(msg.source[1])
        name = src.table
    else:
        _, kind, name = msg.source
        src = None
        if kind != "dataset":
            raise NotRecords(f"these rows are from {name}, not a dataset; {ONE_DATASET}")
    if "@" in name:  # people@v3, people@2026-01-01: rows of an old version
        current = name.split("@")[0]
        raise NotRecords(f"these rows are {name}, an old version of {current}; edit from a query on the current "
                         f"{current} (restore brings an old version back: v in Explore)")
    if name in SYSTEM_TABLES:
        raise NotRecords(f"these rows are from {name}, a system table, which is never edited; {ONE_DATASET}")
    ds = lh.dataset(name)
    if not ds.primary_key:
        raise NotRecords(f"{name} has no primary key, so its rows are not records to edit — declare one when "
                         f"ingesting it (the key box of the ingest screen, {key_of('app', 'ingest')}, or --key; "
                         "mode replace for a dataset that exists)")
    columns = [c.name for c in ds.columns]

    def column_of(result_column: str) -> str | None:
        if src is None:
            return result_column if result_column in columns else None
        return src.column_of(result_column, columns)
    by_column = {}
    for rc in msg.row:
        dc = column_of(rc)
        if dc is not None:
            by_column.setdefault(dc, rc)
    missing = [k for k in ds.primary_key if k not in by_column]
    if missing:
        raise NotRecords(f"this result does not hold {name}'s key ({', '.join(missing)}): select "
                         f"{'it' if len(missing) == 1 else 'them'} too to edit its rows")
    keys = [as_text(msg.row[by_column[k]]) for k in ds.primary_key]
    return Target(name, list(ds.primary_key), keys, column_of(msg.column), msg.row.get(msg.column), msg.row,
                  msg.source)


def record_action(app, msg: RecordAction) -> None:
    """e, d or h on a grid's cell: resolve the record (off the event loop), then the screen."""

    def work_() -> None:
        try:
            target = resolve(app.lh, msg)
            if msg.action == "edit":
                check_editable(target)
        except (LakehouseError, OSError) as e:
            app.call_from_thread(app.notify, said(e), severity="warning", timeout=10)
            return
        app.call_from_thread(open_screen, app, msg.action, target)
    if app.lh is not None:
        app.run_worker(work_, thread=True, group="records", exclusive=True)


def check_editable(t: Target) -> None:
    from core.query.edit_source import NotRecords

    if t.column is None:
        raise NotRecords(f"this column is computed by the query, not a column of {t.dataset}: edit it from "
                         "a query that selects the column as it is")
    if t.column in t.key_columns:
        raise NotRecords(f"the key ({', '.join(t.key_columns)}) cannot be edited — delete the record and "
                         "ingest it under the new key")


def open_screen(app, action: str, target: Target) -> None:
    if action == "history":
        app.push_screen(RecordHistoryScreen(target.dataset, target.key_text, target.shown_key()))
        return
    app.push_screen(RecordScreen(action, target), lambda result: changed(app, target, result))


def changed(app, target: Target, result) -> None:
    """After an edit or a delete: say what was written, and show the rows again."""
    if result is None:
        return
    app.notify(result.message)
    app.post_message(DatasetsChanged())  # Explore reloads (its sample too); SQL's names
    if target.source[0] == "sql":
        app.pane("sql").run_query(target.source[1])


class RecordScreen(ModalScreen):
    """Edit one cell (a new value) or delete one record, with an actor and a reason.
    Dismissed with the MutationResult, or None."""

    AUTO_FOCUS = "#record-value, #record-reason"
    BINDINGS = bindings("record")

    def __init__(self, action: str, target: Target) -> None:
        super().__init__()
        self.action, self.target = action, target
        self._busy = False
        # the box starts with the value, its control characters made visible (same length);
        # one too long to edit in a line starts empty
        text = as_text(target.value)
        self.start = inert_in_place(text) if len(text) <= LONGEST_EDIT else ""

    def compose(self) -> ComposeResult:
        t = self.target
        with Vertical(id="record", classes="record-form"):
            if self.action == "edit":
                yield Static(line(("Edit ", "bold"), (f"{t.dataset}.{t.column}", "bold"), f" of the record {t.shown_key()}"))
                yield Static(line(("now: ", "bold"), _cut(as_text(t.value), 300)), id="record-now")
                yield from _row("value", TextInput(self.start, placeholder="the new value (null: no value)",
                                                   id="record-value", compact=True))
            else:
                yield Static(line(("Delete ", "bold"), "the record ", (t.shown_key(), "bold"), f" of {t.dataset}?"))
                yield Static(literal(_row_text(t.row)), id="record-now")
            yield from _row("actor", TextInput(_user(), placeholder="who (your login)", id="record-actor",
                                               compact=True))
            yield from _row("reason", TextInput(placeholder="why (kept in the record's history)", id="record-reason",
                                                compact=True))
            verb = "saves the new value" if self.action == "edit" else "deletes it (restore brings it back)"
            yield Static(literal(f"enter in the reason box {verb} · escape cancels"), id="record-message")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = [i.id for i in self.query(Input)]
        if event.input.id != "record-reason":  # enter moves on to the next box
            self.query_one(f"#{order[order.index(event.input.id) + 1]}", Input).focus()
            return
        self.submit()

    def _say(self, text: str, error: bool = True) -> None:
        msg = self.query_one("#record-message", Static)
        msg.set_class(error, "error")
        msg.update(line(("refused: ", "bold") if error else "", text))

    def submit(self) -> None:
        if self._busy:
            return
        reason = self.query_one("#record-reason", Input).value.strip()
        actor = self.query_one("#record-actor", Input).value.strip() or None
        if not reason:
            self._say("a reason is needed: it is kept in the record's history, with who and when")
            return
        value = None
        if self.action == "edit":
            value = self.query_one("#record-value", Input).value
            if value == self.start:
                self._say("the value is unchanged — type a new one, or escape to leave it" if value else
                          f"the value is longer than {LONGEST_EDIT:,} characters: type the new one whole")
                return
        self._busy = True
        self._say("saving…" if self.action == "edit" else "deleting…", error=False)
        self.write(value, actor, reason)

    @work(thread=True, exclusive=True, group="record-write")
    def write(self, value, actor, reason) -> None:
        t, lh = self.target, self.app.lh
        try:
            if self.action == "edit":
                result = lh.update(t.dataset, t.key, {t.column: value}, actor=actor, reason=reason)
            else:
                result = lh.delete(t.dataset, t.key, actor=actor, reason=reason)
        except (LakehouseError, OSError) as e:  # a refusal, or the daemon gone
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


class RecordHistoryScreen(ModalScreen):
    """One record's journal: when, version, what, field, old → new, actor, reason."""

    BINDINGS = bindings("changes")

    def __init__(self, dataset: str, key: str, shown_key: str) -> None:
        super().__init__()
        self.dataset, self.key, self.shown_key = dataset, key, shown_key

    def compose(self) -> ComposeResult:
        with Vertical(id="changes", classes="record-list"):
            yield Static(line(("History ", "bold"), f"of the record {self.shown_key} of {self.dataset}",
                              "  — escape closes"))
            yield Static(literal("reading the journal…"), id="changes-message")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="record-history")
    def load(self) -> None:
        try:
            events = self.app.lh.history(self.dataset, self.key)
        except (LakehouseError, OSError) as e:
            self.app.call_from_thread(self._show, [], said(e))
            return
        self.app.call_from_thread(self._show, events, "")

    def _show(self, events: list[dict], error: str) -> None:
        if not self.is_attached:  # closed while the journal was read
            return
        msg = self.query_one("#changes-message", Static)
        if error:
            msg.update(literal(error, "bold"))
            return
        if not events:
            msg.update(literal("no change to this record is journaled: it is as it was ingested"))
            return
        msg.update(literal(f"{len(events)} change(s), newest first"))
        table = DataTable(id="changes-table", cursor_type="row", zebra_stripes=True)
        self.query_one("#changes", Vertical).mount(table)
        # what a narrow terminal shows first: when, which field, old → new, why
        table.add_columns(*(label(c) for c in ("when", "field", "old → new", "reason", "actor", "version", "what")))
        for e in sorted(events, key=lambda e: (e.get("ts") or "", e.get("id") or 0), reverse=True):
            change = f"{_shown(e.get('old_value'))} → {_shown(e.get('new_value'))}"
            table.add_row(*(label(_cut(str(c), w)) for c, w in (
                ((e.get("ts") or "")[:19].replace("T", " "), 19), (e.get("field") or "", 24), (change, 60),
                (e.get("reason") or "", 60), (e.get("actor") or "", 20), (e.get("table_version"), 8),
                (e.get("source") or "", 10))))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _row(name: str, box: Input):
    with Horizontal(classes="record-row"):
        yield Label(name)
        yield box


def _shown(v) -> str:
    return "∅" if v is None else str(v)


def _row_text(row: dict, width: int = 300) -> str:
    return _cut(" · ".join(f"{k} = {as_text(v)}" for k, v in row.items()), width)


def _cut(text: str, width: int) -> str:
    """A long value cut to `width`, with an ellipsis (the whole of it stays in the journal)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _user() -> str:
    """The actor a change is recorded with by default: the login, as the CLI's --actor
    defaults to (sent explicitly: a daemon would otherwise record its own user)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name: the box stays empty, the core decides
        return ""

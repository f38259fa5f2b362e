"""The SQL pane: an editor with SQL highlighting, results in a virtualised Arrow table.

ctrl+r (or ctrl+enter, or ctrl+j) runs the statement under the cursor, or the selection
(comments before it are not part of what runs). The query streams in a worker: the first
`DISPLAY_CAP` rows are kept for the table, the rest are only counted, so memory stays
bounded and the true row count is shown. ctrl+g interrupts the running query.
"""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TabbedContent, TabPane, TextArea
from textual.widgets.text_area import Selection

from core.query.export import format_of, write_result
from core.query.history import recall, remember
from core.text import count, inert_in_place

from .base import FilterPicker, Pane, TextInput, inert_table, literal, said
from .grid import record_grid
from .keys import bindings, key_of

DISPLAY_CAP = 100_000


class SqlEditor(TextArea):
    """The SQL editor. A query can quote untrusted text (a column name put here by Explore,
    a model's SQL by Ask, a cell pasted in): each control character is drawn as one visible
    character (␛ for ESC), never sent to the terminal. The text itself, and so what runs,
    is kept exactly."""

    def get_line(self, line_index: int):
        line = super().get_line(line_index)
        shown = inert_in_place(line.plain)
        if shown != line.plain:
            line.plain = shown  # same length: the cursor and the selection stay where they are
        return line


def _editor(widget_id: str) -> TextArea:
    return SqlEditor("", language="sql", id=widget_id, classes="sql-editor", show_line_numbers=True,
                     soft_wrap=False)


def statement_at(text: str, offset: int) -> str:
    """The statement around character `offset` (statements end at ';' outside quotes
    and comments)."""
    bounds, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = text.find(c, i + 1)
            while j != -1 and j + 1 < n and text[j + 1] == c:  # doubled quote inside
                j = text.find(c, j + 2)
            i = n if j == -1 else j + 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j + 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j == -1 else j + 2
            continue
        if c == ";":
            bounds.append((start, i))
            start = i + 1
        i += 1
    bounds.append((start, n))
    for a, b in bounds:
        if a <= offset <= b and text[a:b].strip():
            return text[a:b].strip()
    # the cursor sits after the last ';' on blank space: the statement before it
    filled = [text[a:b].strip() for a, b in bounds if text[a:b].strip() and a <= offset]
    return filled[-1] if filled else ""


def without_leading_comments(sql: str) -> str:
    """`sql` without the comments before its first word (-- lines and /* */ blocks)."""
    while True:
        sql = sql.lstrip()
        if sql.startswith("--"):
            end = sql.find("\n")
            sql = "" if end == -1 else sql[end + 1:]
        elif sql.startswith("/*"):
            end = sql.find("*/")
            sql = "" if end == -1 else sql[end + 2:]
        else:
            return sql


class SqlPane(Pane):
    BINDINGS = bindings("sql")

    def compose(self) -> ComposeResult:
        with TabbedContent(id="sql-buffers"):  # buffers: ctrl+t opens another
            with TabPane("query 1", id="buffer-1"):
                yield _editor("sql-editor")
        yield Static("opening the storage root…", id="sql-message")
        yield Container(id="sql-results")
        yield TextInput(placeholder="export to (…/file.csv, .parquet or .json), enter to write, escape to cancel",
                    id="sql-export")

    @property
    def editor(self) -> TextArea:
        """The editor of the buffer in front."""
        buffers = self.query_one("#sql-buffers", TabbedContent)
        return buffers.query_one(f"#{buffers.active}").query_one(TextArea)

    def action_new_buffer(self) -> None:
        buffers = self.query_one("#sql-buffers", TabbedContent)
        self._buffers = getattr(self, "_buffers", 1) + 1
        n = self._buffers
        buffers.add_pane(TabPane(f"query {n}", _editor(f"sql-editor-{n}"), id=f"buffer-{n}"))
        buffers.active = f"buffer-{n}"
        self.call_after_refresh(self.focus_main)

    def action_close_buffer(self) -> None:
        buffers = self.query_one("#sql-buffers", TabbedContent)
        if buffers.tab_count <= 1:
            self._say("the last buffer stays open")
            return
        buffers.remove_pane(buffers.active)
        self.call_after_refresh(self.focus_main)

    def main_widget(self):
        return self.editor

    def rescope(self) -> None:
        self._say(f"ready — {key_of('sql', 'run')} runs the statement under the cursor; "
                  f"{key_of('app', 'command_palette')} lists every action")
        self.last_query: str | None = None
        if not self.editor.text.strip():
            self._template()

    def datasets_changed(self) -> None:
        """After an ingest from the TUI: an editor still holding the untouched template names
        the datasets there are now."""
        if self.lh is not None and self.editor.text == getattr(self, "_templated", None):
            self._template()

    def _template(self) -> None:
        editor = self.editor
        names = [d.name for d in self.lh.datasets()]
        first = names[0] if names else "_datasets"
        example = f'SELECT * FROM "{first}" LIMIT 100;'
        none = f"none yet ({key_of('app', 'ingest')} ingests a file)"
        editor.text = f"-- datasets here: {', '.join(names[:8]) or none}\n{example}\n"
        self._templated = editor.text
        # the example is selected: typing replaces it, running it as is runs the example
        editor.selection = Selection((1, 0), (1, len(example)))

    def set_query(self, sql: str, run: bool = True) -> None:
        """Put a query in the editor (from Explore or Ask) and run it."""
        editor = self.editor
        editor.text = sql + "\n"
        editor.move_cursor((0, 0))
        if run:
            self.action_run()

    def _say(self, text: str, error: bool = False) -> None:
        """A one-line message; it may quote the query, a path or an error: literal text."""
        msg = self.query_one("#sql-message", Static)
        msg.set_class(error, "error")
        msg.update(literal(text))

    # -- running ---------------------------------------------------------------------------
    def current_statement(self) -> str:
        """The selection, else the statement under the cursor (with any comments before it)."""
        editor = self.editor
        if editor.selected_text.strip():
            return editor.selected_text.strip().rstrip(";")
        row, col = editor.cursor_location
        lines = editor.text.split("\n")
        offset = sum(len(ln) + 1 for ln in lines[:row]) + col
        return statement_at(editor.text, offset)

    def action_run(self) -> None:
        if self.lh is not None:
            # ctrl+r is a priority key: it is handled before the keys typed just ahead of it
            # reach the editor, so read the statement once the editor has them
            self.editor.call_later(self._run_statement)

    def _run_statement(self) -> None:
        written = self.current_statement()
        sql = without_leading_comments(written)  # the template's note is not part of what runs or is audited
        if not sql:
            self._say("only comments here, nothing to run: write a statement after them, e.g. "
                      "SELECT * FROM <dataset> LIMIT 10" if written else
                      "nothing to run: write a statement, e.g. SELECT * FROM <dataset> LIMIT 10", error=True)
            return
        self._say(f"running… ({key_of('sql', 'cancel')} cancels)  {' '.join(sql.split())[:80]}")
        self.run_query(sql)

    @work(thread=True, exclusive=True, group="sql")
    def run_query(self, sql: str) -> None:
        import pyarrow as pa

        from core.errors import LakehouseError

        t0 = time.perf_counter()
        try:
            reader = self.lh.sql_stream(sql)
            kept, kept_rows, total = [], 0, 0
            for batch in reader:
                total += batch.num_rows
                if kept_rows < DISPLAY_CAP:
                    piece = batch.slice(0, DISPLAY_CAP - kept_rows)
                    kept.append(piece)
                    kept_rows += piece.num_rows
            table = pa.Table.from_batches(kept, schema=reader.schema)
            shown = inert_table(table)  # what the table shows, made here: not on the event loop
        except (LakehouseError, RuntimeError) as e:  # ctrl+g arrives as DuckDB's "Interrupted!"
            text = "query cancelled" if "interrupted" in str(e).lower() else f"error: {said(e)}"
            self.app.call_from_thread(self._failed, text)
            return
        elapsed = time.perf_counter() - t0
        self.app.call_from_thread(self._show, sql, table, total, elapsed, shown)

    async def _show(self, sql: str, table, total: int, elapsed: float, shown=None) -> None:
        self.last_query = sql
        self._remember(sql, total, elapsed)
        box = self.query_one("#sql-results", Container)
        await box.remove_children()
        self._raw = table  # the exact values, for copying; the table shows them inert
        # e, d and h on a cell: edit, delete, history of the row's record (app/tui/records.py)
        await box.mount(record_grid(table, shown, source=("sql", sql), id="sql-table", max_column_content_width=60,
                                    null_rep="∅"))
        shown = (f"first {table.num_rows:,} shown — export ({key_of('sql', 'export')}) writes all"
                 if total > table.num_rows else "")
        self._say(f"{total:,} row{'s' if total != 1 else ''} in {elapsed * 1000:.0f} ms  {shown}")

    async def _failed(self, text: str) -> None:
        """An error replaces the result: the old table under a new error would read as its result."""
        self.last_query = None  # export writes the result on screen, and there is none now
        self._raw = None
        await self.query_one("#sql-results", Container).remove_children()
        self._say(text, error=True)

    def action_cancel(self) -> None:
        if self.lh is not None and self.lh.interrupt_sql():
            self._say("cancelling…", error=True)

    # -- export ------------------------------------------------------------------------------
    def action_export(self) -> None:
        if not self.last_query:
            self._say("run a query first; export writes its full result", error=True)
            return
        box = self.query_one("#sql-export", Input)
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "sql-export":
            return
        from pathlib import Path

        path = Path(event.value.strip()).expanduser()
        fmt = format_of(path)
        if fmt is None:
            self._say(f"export: {path.name or 'the file'} needs a .csv, .parquet or .json extension", error=True)
            return
        event.input.value = ""
        event.input.remove_class("visible")
        self.focus_main()
        self.export(self.last_query, str(path), fmt)

    def on_key(self, event) -> None:
        box = self.query_one("#sql-export", Input)
        if event.key == "escape" and box.has_class("visible"):
            box.remove_class("visible")
            self.focus_main()
            event.stop()

    @work(thread=True, group="export")
    def export(self, sql: str, path: str, fmt: str) -> None:
        from core.errors import LakehouseError

        try:
            n = write_result(self.lh.sql_stream(sql), fmt, path)
        except (LakehouseError, ValueError, OSError) as e:
            self.app.call_from_thread(self._say, f"export failed: {said(e)}", True)
            return
        self.app.call_from_thread(self.app.notify, f"wrote {count(n, 'row')} to {path}")
        self.app.call_from_thread(self._say, f"wrote {count(n, 'row')} to {path}")

    # -- history -----------------------------------------------------------------------------
    def _remember(self, sql: str, rows: int, elapsed: float) -> None:
        """Append a query that ran to the persisted history (core.query.history)."""
        remember(self.lh.root, sql, rows, elapsed, self.lh.profile.id)

    def history(self) -> list[dict]:
        """Past queries, newest first, each once."""
        return recall(self.lh.root)

    def action_history(self) -> None:
        if self.lh is None:
            return
        self.app.push_screen(HistoryPicker(self.history()), self._from_history)

    def _from_history(self, sql: str | None) -> None:
        if sql:
            self.set_query(sql, run=False)
            self.focus_main()

    # -- completion ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Dataset and column names of the profile, for completion."""
        out = []
        for d in self.lh.datasets():
            out.append(d.name)
            out.extend(c.name for c in d.columns)
        return sorted(set(out))

    def action_complete(self) -> None:
        if self.lh is not None:
            self.editor.call_later(self._complete)  # after the keys typed ahead of it (see action_run)

    def _complete(self) -> None:
        """Complete the word before the cursor: one match is inserted, several are offered."""
        editor = self.editor
        row, col = editor.cursor_location
        line = editor.text.split("\n")[row][:col]
        word = ""
        for ch in reversed(line):
            if not (ch.isalnum() or ch == "_"):
                break
            word = ch + word
        matches = [n for n in self.names() if n.lower().startswith(word.lower()) and n != word]
        if not matches:
            self._say(f"no dataset or column starts with {word!r}" if word else "type the start of a name first")
            return
        if len(matches) == 1:
            editor.insert(matches[0][len(word):])
            return
        self.app.push_screen(NamePicker(matches, word), lambda name: name and editor.insert(name[len(word):]))

    # -- cells ---------------------------------------------------------------------------------
    def _table(self):
        found = self.query("#sql-table")
        return found.first() if found else None

    _raw = None  # the result on screen as the query returned it (the table shows it inert)

    def _exact(self, row: int, column: int, shown):
        """A cell's exact value (the table holds the inert form shown on screen)."""
        raw = self._raw
        if raw is None or row >= raw.num_rows or column >= raw.num_columns:
            return shown
        return raw.column(column)[row].as_py()

    def on_data_table_cell_selected(self, event) -> None:
        """enter on a cell: the whole value, however long."""
        coord = event.coordinate
        self.app.push_screen(CellViewer(self._exact(coord.row, coord.column, event.value)))

    def action_copy_cell(self) -> None:
        table = self._table()
        if table is None or not table.has_focus:
            return
        coord = table.cursor_coordinate
        value = self._exact(coord.row, coord.column, table.get_cell_at(coord))
        self.app.copy_to_clipboard("" if value is None else str(value))  # OSC 52 in the terminal (base64)
        self.app.notify("cell copied")

    def action_copy_row(self) -> None:
        table = self._table()
        if table is None or not table.has_focus:
            return
        row = [self._exact(table.cursor_row, c, v) for c, v in enumerate(table.get_row_at(table.cursor_row))]
        self.app.copy_to_clipboard("\t".join("" if v is None else str(v) for v in row))
        self.app.notify("row copied (tab-separated)")


class HistoryPicker(FilterPicker):
    """Past queries, newest first: type to filter, enter to load one into the editor."""

    def __init__(self, entries: list[dict]) -> None:
        self.entries = entries
        self.heading = f"Query history ({len(entries)}) — type to filter, enter to load"
        super().__init__()

    def choices(self, text: str) -> list[tuple[str, object]]:
        words = text.lower().split()
        hits = [e for e in self.entries if all(w in e["sql"].lower() for w in words)][:200]
        return [(f"{e['ts'][:16].replace('T', ' ')}  {' '.join(e['sql'].split())[:90]}  ({count(e['rows'], 'row')})",
                 e["sql"]) for e in hits]


class NamePicker(FilterPicker):
    """Several names complete the word: pick one (type to narrow)."""

    def __init__(self, names: list[str], prefix: str) -> None:
        self.names = names
        self.heading = f"{len(names)} names start with {prefix!r}"
        super().__init__()

    def choices(self, text: str) -> list[tuple[str, object]]:
        return [(n, n) for n in self.names if text.lower() in n.lower()][:200]


class CellViewer(ModalScreen):
    """One cell's whole value, scrollable; c copies it."""

    AUTO_FOCUS = "*"  # the app's own AUTO_FOCUS names a widget these screens do not have

    BINDINGS = bindings("cell")

    def __init__(self, value) -> None:
        super().__init__()
        self.value = "∅ (NULL)" if value is None else str(value)

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        with VerticalScroll(id="picker"):  # shown inert (control characters as \x1b); c copies it exactly
            yield Static(literal(self.value), id="cell-value")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.value)
        self.app.notify("cell copied")

    def action_close(self) -> None:
        self.dismiss(None)

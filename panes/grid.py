"""A result grid whose rows may be records: e edits the cell under the cursor, d deletes
its row's record, h shows the record's history. The grid only says which cell and where
its rows came from (a RecordAction message); the app decides whether that is one record
of one keyed dataset (app/tui/records.py)."""

from __future__ import annotations

from textual_fastdatatable import DataTable

from .base import inert_table, label
from .keys import bindings
from .messages import RecordAction


class RecordGrid(DataTable):
    BINDINGS = bindings("grid")
    # the fast table's own look, under this name: Textual's built-in DataTable (other screens
    # use it) has rules for the same type name, which would win for a subclass without CSS
    DEFAULT_CSS = DataTable.DEFAULT_CSS.replace("DataTable", "RecordGrid")

    def __init__(self, table, shown=None, *, source: tuple, **kwargs) -> None:
        super().__init__(data=shown if shown is not None else inert_table(table),
                         column_labels=[label(n) for n in table.column_names], render_markup=False, **kwargs)
        self.raw = table  # the exact values (the grid shows them inert)
        self.source = source

    def _record(self, action: str) -> None:
        raw = self.raw
        if raw is None or raw.num_rows == 0:
            self.app.notify("no row here to " + {"edit": "edit", "delete": "delete"}.get(action, "show"),
                            severity="warning")
            return
        row_i, col_i = self.cursor_coordinate.row, self.cursor_coordinate.column
        if not (0 <= row_i < raw.num_rows and 0 <= col_i < raw.num_columns):
            return
        row = {name: raw.column(i)[row_i].as_py() for i, name in enumerate(raw.column_names)}
        self.post_message(RecordAction(action, self.source, row, raw.column_names[col_i]))

    def action_edit(self) -> None:
        self._record("edit")

    def action_delete(self) -> None:
        self._record("delete")

    def action_history(self) -> None:
        self._record("history")


def record_grid(table, shown=None, *, source: tuple, **kwargs) -> RecordGrid:
    """A grid of untrusted rows (literal and inert, as base.data_table) that knows its source."""
    return RecordGrid(table, shown, source=source, **kwargs)

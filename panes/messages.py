"""What panes tell the app. A pane never imports another pane: it posts one of these
(they bubble up to the app), and the app routes it to the pane it concerns."""

from __future__ import annotations

from textual.message import Message


class OpenInSql(Message):
    """Show the SQL pane with `sql` in its editor, and run it (unless `run` is False)."""

    def __init__(self, sql: str, run: bool = True) -> None:
        super().__init__()
        self.sql, self.run = sql, run


class Rescoped(Message):
    """Profile `profile` is now the active one (an activation finished): every pane rescopes."""

    def __init__(self, profile: str) -> None:
        super().__init__()
        self.profile = profile


class DatasetsChanged(Message):
    """Datasets or indexes may have changed (a job ran): Explore reloads its tree."""


class Govern(Message):
    """Explore asks for a governance or maintenance step on a dataset: `action` is one of
    annotate, tag (of `column`), compact or resync (app/tui/annotate.py does it)."""

    def __init__(self, action: str, dataset: str, column: str | None = None) -> None:
        super().__init__()
        self.action, self.dataset, self.column = action, dataset, column


class EmbedColumn(Message):
    """Explore asks to embed `dataset`.`column`: the app opens the embed form (app/tui/embed.py)."""

    def __init__(self, dataset: str, column: str) -> None:
        super().__init__()
        self.dataset, self.column = dataset, column


class OpenIndex(Message):
    """Show index `index`'s generations (app/tui/indexes.py): from Explore or Trials."""

    def __init__(self, index: str) -> None:
        super().__init__()
        self.index = index


class OpenLive(Message):
    """Show the watches and schedules (app/tui/live.py): from the System pane."""


class SearchIndex(Message):
    """Search by meaning (app/tui/search.py): on `index`, else on `dataset`'s first index, else the first."""

    def __init__(self, index: str | None = None, dataset: str | None = None) -> None:
        super().__init__()
        self.index, self.dataset = index, dataset


class RecordAction(Message):
    """e, d or h on a result grid's cell (SQL results, Explore's sample): edit the cell, delete
    the row's record or show its history (`action`). `source` says where the rows came from
    (("sql", statement) or ("explore", kind, name)); `row` holds the row's exact values by
    result column and `column` the cell's (app/tui/records.py decides whether it is a record)."""

    def __init__(self, action: str, source: tuple, row: dict, column: str) -> None:
        super().__init__()
        self.action, self.source, self.row, self.column = action, source, row, column


class OpenVersions(Message):
    """Show dataset `dataset`'s versions, to preview and restore one (app/tui/versions.py)."""

    def __init__(self, dataset: str) -> None:
        super().__init__()
        self.dataset = dataset

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


class SearchIndex(Message):
    """Search by meaning (app/tui/search.py): on `index`, else on `dataset`'s first index, else the first."""

    def __init__(self, index: str | None = None, dataset: str | None = None) -> None:
        super().__init__()
        self.index, self.dataset = index, dataset

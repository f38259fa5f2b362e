"""The Ask pane: a conversation with your data.

Each question streams its answer token by token; under it come the SQL that ran
(ctrl+r opens it in the SQL pane), the first rows, or the cited passages. The pane shows
exactly what the facade's ask returns, as `lakehouse ask` does: when Ollama cannot be
reached, its one sentence saying so and what to do.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Select, Static

from .base import Pane
from .keys import bindings, key_of


class AskPane(Pane):
    BINDINGS = bindings("ask")

    def compose(self) -> ComposeResult:
        yield VerticalScroll(Static("Ask a question about your data — e.g. \"how many candidates per state?\" "
                                    "or \"who could handle our Kubernetes migration?\"", classes="ask-hint"),
                             id="ask-log")
        with Horizontal(id="ask-bar"):
            yield Select([("auto", "auto"), ("sql", "sql"), ("rag", "rag")], value="auto", allow_blank=False,
                         id="ask-mode")
            yield Input(placeholder="your question, then enter", id="ask-input")

    def main_widget(self):
        return self.query_one("#ask-input", Input)

    def rescope(self) -> None:
        self.last_sql = ""
        self.last_citations: list = []

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "ask-input" or self.lh is None:
            return
        question = event.value.strip()
        if not question:
            return
        event.input.value = ""
        log = self.query_one("#ask-log", VerticalScroll)
        log.mount(Static(f"[b]› {question}[/]", classes="ask-q"))
        answer = Static("…", classes="ask-a")
        log.mount(answer)
        log.scroll_end(animate=False)
        self.ask(question, str(self.query_one("#ask-mode", Select).value), answer)

    @work(thread=True, group="ask")
    def ask(self, question: str, mode: str, answer: Static) -> None:
        """Exactly what the facade's ask returns, as `lakehouse ask` shows it: an answer, or
        the one sentence of its error (with Ollama down, that sentence says what to do)."""
        from rich.markup import escape

        from core.errors import LakehouseError

        pieces: list[str] = []

        def on_token(piece: str) -> None:
            pieces.append(piece)
            self.app.call_from_thread(answer.update, escape("".join(pieces)))
        try:
            r = self.lh.ask(question, mode=mode, on_token=on_token)
        except LakehouseError as e:
            self.app.call_from_thread(self._finish, answer, f"[red]{escape(str(e))}[/]", "")
            return
        self.app.call_from_thread(self._finish, answer, _render(r), r.sql, r.citations)

    def _finish(self, answer: Static, text: str, sql: str, citations=None) -> None:
        answer.update(text)
        if sql:
            self.last_sql = sql
        if citations:
            self.last_citations = citations
        self.query_one("#ask-log", VerticalScroll).scroll_end(animate=False)

    def action_open_sql(self) -> None:
        if getattr(self, "last_sql", ""):
            from .sql import SqlPane

            self.app.action_pane("sql")
            self.app.query_one(SqlPane).set_query(self.last_sql)

    def action_open_cited(self) -> None:
        """The source rows of the last answer's citations, as a query in the SQL pane."""
        cites = getattr(self, "last_citations", [])
        if not cites or self.lh is None:
            return
        from core.errors import LakehouseError

        from .sql import SqlPane

        dataset = cites[0].dataset
        try:
            query = self.lh.rows_query(dataset, [c.row_key for c in cites if c.dataset == dataset])
        except LakehouseError as e:
            self.app.notify(str(e), severity="warning")
            return
        self.app.action_pane("sql")
        self.app.query_one(SqlPane).set_query(query)

    def commands(self):
        yield SystemCommand(f"Open the last answer's SQL ({key_of('ask', 'open_sql')})", "Run it in the SQL pane",
                            self.action_open_sql)
        yield SystemCommand(f"Open the cited rows ({key_of('ask', 'open_cited')})",
                            "The last answer's source rows, in the SQL pane",
                            self.action_open_cited)


def _render(r) -> str:
    from rich.markup import escape

    lines = [escape(r.answer) or "(no answer)", f"[dim]{r.reason} · {r.model} · "
             f"{r.timings_ms.get('total_ms', 0) / 1000:.1f} s · ask {r.id}[/]"]
    if r.sql:
        lines.append(f"[b]SQL[/] {escape(r.sql)}  [dim]({key_of('ask', 'open_sql')} opens it in the SQL pane)[/]")
        for row in r.rows[:10]:
            lines.append("  " + " | ".join("∅" if v is None else escape(str(v)) for v in row.values()))
        if r.row_count and r.row_count > 10:
            lines.append(f"  [dim]… {r.row_count:,} rows in all[/]")
    if r.where:
        lines.append(f"[dim]filter: {escape(r.where)}[/]")
    for c in r.citations:
        lines.append(f"  [b][{c.n}][/] {c.dataset} {escape(c.row_key)} ({c.score:.2f}): {escape(c.text[:160])}")
    if r.citations:
        lines.append(f"  [dim]({key_of('ask', 'open_cited')} opens the cited rows in the SQL pane)[/]")
    return "\n".join(lines)

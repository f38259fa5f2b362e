"""The Ask pane: a conversation with your data.

Each question streams its answer token by token; under it come the SQL that ran
(ctrl+r opens it in the SQL pane), the first rows, or the cited passages; an answer that
cited rows can be remembered as a playbook memory (ctrl+s), and an answer's SQL kept as an
example for later questions (ctrl+y). The pane shows
exactly what the facade's ask returns, as `lakehouse ask` does: when Ollama cannot be
reached, its one sentence saying so and what to do.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Select, Static

from .base import Pane, TextInput, line, literal, said
from .keys import bindings, key_of
from .messages import OpenInSql


class AskPane(Pane):
    BINDINGS = bindings("ask")

    def compose(self) -> ComposeResult:
        yield VerticalScroll(Static("Ask a question about your data — e.g. \"how many candidates per state?\" "
                                    "or \"who could handle our Kubernetes migration?\"", classes="ask-hint"),
                             id="ask-log")
        with Horizontal(id="ask-bar"):
            yield Select([("auto", "auto"), ("sql", "sql"), ("rag", "rag")], value="auto", allow_blank=False,
                         id="ask-mode")
            yield TextInput(placeholder="your question, then enter", id="ask-input")

    def main_widget(self):
        return self.query_one("#ask-input", Input)

    def rescope(self) -> None:
        self.last_sql = ""
        self.last_citations: list = []
        self.last_answer = None  # the last AskResult: what ctrl+s remembers

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "ask-input" or self.lh is None:
            return
        question = event.value.strip()
        if not question:
            return
        event.input.value = ""
        log = self.query_one("#ask-log", VerticalScroll)
        log.mount(Static(literal(f"› {question}", "bold"), classes="ask-q"))
        answer = Static("…", classes="ask-a")
        log.mount(answer)
        log.scroll_end(animate=False)
        self.ask(question, str(self.query_one("#ask-mode", Select).value), answer)

    @work(thread=True, group="ask")
    def ask(self, question: str, mode: str, answer: Static) -> None:
        """Exactly what the facade's ask returns, as `lakehouse ask` shows it: an answer, or
        the one sentence of its error (with Ollama down, that sentence says what to do).
        The model's answer is untrusted text: shown literally, never as markup or escapes."""
        from core.errors import LakehouseError

        pieces: list[str] = []

        def on_token(piece: str) -> None:
            pieces.append(piece)
            self.app.call_from_thread(answer.update, literal("".join(pieces)))
        try:
            r = self.lh.ask(question, mode=mode, on_token=on_token)
        except LakehouseError as e:
            self.app.call_from_thread(self._finish, answer, literal(said(e), "red"), "")
            return
        self.app.call_from_thread(self._finish, answer, _render(r), r.sql, r.citations, r)

    def _finish(self, answer: Static, text, sql: str, citations=None, result=None) -> None:
        answer.update(text)
        self.last_answer = result
        if sql:
            self.last_sql = sql
        if citations:
            self.last_citations = citations
        self.query_one("#ask-log", VerticalScroll).scroll_end(animate=False)

    def action_open_sql(self) -> None:
        if getattr(self, "last_sql", ""):
            self.post_message(OpenInSql(self.last_sql))

    def action_open_cited(self) -> None:
        """The source rows of the last answer's citations, as a query in the SQL pane."""
        cites = getattr(self, "last_citations", [])
        if not cites or self.lh is None:
            return
        from core.errors import LakehouseError

        dataset = cites[0].dataset
        try:
            query = self.lh.rows_query(dataset, [c.row_key for c in cites if c.dataset == dataset])
        except LakehouseError as e:
            self.app.notify(said(e), severity="warning")  # literal: LakehouseApp.notify
            return
        self.post_message(OpenInSql(query))

    def action_remember(self) -> None:
        r = getattr(self, "last_answer", None)
        if self.lh is None:
            return
        if r is None:
            self._tell(literal("nothing to remember yet: ask a question first", "yellow"))
        elif not r.citations:
            self._tell(literal("the last answer cites no rows, so there is nothing for a memory to endorse — "
                               "answers from passages (rag) cite rows", "yellow"))
        elif r.outcome != "answered":
            self._tell(literal("the last answer was not found in the data, so it is not remembered", "yellow"))
        else:
            self.remember(r)

    def action_accept(self) -> None:
        r = getattr(self, "last_answer", None)
        if self.lh is None:
            return
        if r is None or not r.sql:
            self._tell(literal("no SQL to keep yet: ask a question that is answered with SQL first", "yellow"))
        else:
            self.accept(r)

    @work(thread=True, group="ask-accept")
    def accept(self, r) -> None:
        """The question → SQL pair becomes an example later questions get in their prompt."""
        from core.errors import LakehouseError

        try:
            self.lh.accept(r.id)
        except LakehouseError as e:
            self.app.call_from_thread(self._tell, literal(said(e), "red"))
            return
        self.app.call_from_thread(self._tell, line(("kept as an example", "bold"), f": questions like “{r.question}” "
                                                   "now get its SQL in their prompt"))

    @work(thread=True, group="ask-remember")
    def remember(self, r) -> None:
        """The question as the memory's operation, endorsing the cited rows of the index the
        passages came from (the answer says which; an older daemon's does not: then the one
        index over the cited dataset)."""
        from core.errors import LakehouseError

        try:
            index = getattr(r, "index", "") or self._index_of(r.citations[0].dataset)
            if not index:
                self.app.call_from_thread(self._tell, literal(
                    f"cannot tell which index the cited rows came from ({r.citations[0].dataset} has none or "
                    f"several) — remember it from the CLI with lakehouse memory add", "yellow"))
                return
            dataset = next((i.dataset for i in self.lh.indexes() if i.name == index.split("@")[0]), None)
            keys = list(dict.fromkeys(c.row_key for c in r.citations if dataset is None or c.dataset == dataset))
            e = self.lh.memory_add(index.split("@")[0], r.question, keys, approach="accepted answer to an ask")
        except LakehouseError as e:
            self.app.call_from_thread(self._tell, literal(said(e), "red"))
            return
        done = {"ADD": "added", "UPDATE": "updated", "NOOP": "unchanged"}.get(e.action, e.action.lower())
        shows = key_of("app", "pane('memory')")
        self.app.call_from_thread(self._tell, line((f"memory #{e.id} {done}", "bold"), f": {e.index}, endorsing "
                                                   f"{len(e.keys)} cited row{'s' * (len(e.keys) != 1)}",
                                                   (f"  (the Memory pane, {shows}, shows it)", "dim")))

    def _index_of(self, dataset: str) -> str:
        names = [i.name for i in self.lh.indexes() if i.dataset == dataset and i.active_gen is not None]
        return names[0] if len(names) == 1 else ""

    def _tell(self, text) -> None:
        """A line of the pane's own under the conversation."""
        log = self.query_one("#ask-log", VerticalScroll)
        log.mount(Static(text, classes="ask-note"))
        log.scroll_end(animate=False)


def _render(r):
    """The answer, its SQL and rows or its cited passages. All of it is untrusted (the model
    wrote the answer and the SQL; rows and passages come from files): each piece is literal
    text, control characters shown as \\x1b; only the pane's own labels are styled."""
    from textual.content import Content

    lines = [literal(r.answer or "(no answer)"),
             line((f"{r.reason} · {r.model} · {r.timings_ms.get('total_ms', 0) / 1000:.1f} s · ask {r.id}", "dim"))]
    if r.sql:
        lines.append(line(("SQL", "bold"), f" {r.sql}  ",
                          (f"({key_of('ask', 'open_sql')} opens it in the SQL pane)", "dim")))
        for row in r.rows[:10]:
            lines.append(line("  " + " | ".join("∅" if v is None else str(v) for v in row.values())))
        if r.row_count and r.row_count > 10:
            lines.append(line(("  ", ""), (f"… {r.row_count:,} rows in all", "dim")))
    if r.where:
        lines.append(line((f"filter: {r.where}", "dim")))
    for c in r.citations:
        lines.append(line("  ", (f"[{c.n}]", "bold"), f" {c.dataset} {c.row_key} ({c.score:.2f}): ",
                          c.text[:160]))
    if r.citations:
        lines.append(line("  ", (f"({key_of('ask', 'open_cited')} opens the cited rows in the SQL pane)", "dim")))
    return Content("\n").join(lines)

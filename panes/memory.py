"""The Memory pane: an index's playbook memories (issue 17) as a table filtered by status,
a search of them by meaning, the highlighted one's version chain and what it endorses,
retire and revise with a reason, and a search of the index without and with memory side
by side — which rows moved and why. Everything goes through the facade, in thread workers."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, DataTable, Input, Select, Static

from core.memory.boost import why
from core.memory.boost import boost_counts

from .base import Pane, TextInput, label, line, literal, said
from .keys import bindings, key_of

ALL = "\x00all"  # the index Select's "every index" (no index name holds a NUL)
STATUSES = ["live", "retired", "superseded", "expired", "pending", "all"]
COLUMNS = ["id", "v", "status", "operation", "keys", "scope", "valid until", "actor", "created"]
K = 10  # the side-by-side searches' k


class ReasonPrompt(ModalScreen):
    """Asks why (and, to revise, the new approach); dismissed with {"reason", "approach"} or None."""

    AUTO_FOCUS = "Input"
    BINDINGS = bindings("reason")
    DEFAULT_CSS = """
    ReasonPrompt { align: center middle; }
    ReasonPrompt > Container { width: 76; max-width: 100%; height: auto; border: round $primary;
                               background: $surface; padding: 0 1; }
    ReasonPrompt Static { margin: 0 0 1 0; }
    """

    def __init__(self, question: str, approach: str | None = None) -> None:
        super().__init__()
        self.question, self.approach = question, approach

    def compose(self) -> ComposeResult:
        with Container():
            yield Static(line((self.question, "bold"), ("  (enter: done · escape: cancel)", "dim")))
            if self.approach is not None:
                yield TextInput(self.approach, placeholder="the new approach", id="reason-approach")
            yield TextInput(placeholder="the reason (journaled with the change)", id="reason-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason-approach":
            self.query_one("#reason-text", Input).focus()
            return
        approach = self.query_one("#reason-approach", Input).value if self.approach is not None else None
        self.dismiss({"reason": event.value.strip(), "approach": approach})

    def action_close(self) -> None:
        self.dismiss(None)


def cells(e) -> list:
    """A memory as a table row: every text from users literal (label), never markup."""
    scope = ", ".join(f"{k}={v}" for k, v in e.scope.items()) or "everywhere"
    op = e.operation if len(e.operation) <= 40 else e.operation[:39] + "…"
    style = "" if e.status == "live" else "dim"
    return [label((f"#{e.id}", "bold")), label(f"v{e.version}"), label((e.status, style)), label(op),
            label(str(len(e.keys))), label(scope), label((e.valid_until or "-")[:10]), label(e.actor),
            label(e.created_at[:16].replace("T", " "))]


def detail(e, chain: list):
    """What the memory endorses and its version chain, root → tip."""
    scope = ", ".join(f"{k} = {v}" for k, v in e.scope.items()) or "everywhere (no scope)"
    keys = ", ".join(e.keys[:12]) + (f" and {len(e.keys) - 12} more" if len(e.keys) > 12 else "")
    parts = [line((f"#{e.id} v{e.version} {e.status}", "bold"), f" · {e.index} · by {e.actor} ({e.profile}) · "
                  f"created {e.created_at[:19]}"),
             line(("operation ", "bold"), e.operation),
             line(("approach  ", "bold"), e.approach or "-"),
             line(("endorses  ", "bold"), f"{len(e.keys)} row key{'s' * (len(e.keys) != 1)}: {keys}"),
             line(("scope     ", "bold"), scope),
             line(("valid     ", "bold"), f"from {e.valid_from[:19]} until {(e.valid_until or 'no end')[:19]}")]
    if e.retired_at:
        parts.append(line(("retired   ", "bold red"), f"{e.retired_at[:19]}: {e.retired_reason or ''}"))
    if e.superseded_by:
        parts.append(line(("superseded", "bold yellow"), f" by #{e.superseded_by} at {(e.superseded_at or '')[:19]}"))
    versions = []
    for v in chain:
        if versions:
            versions.append(" → ")
        versions.append((f"#{v.id} v{v.version} {v.status}", "bold reverse" if v.id == e.id else ""))
    parts.append(line(("versions  ", "bold"), *versions))
    return line(*[p for part in parts for p in (part, "\n")][:-1])


def side_by_side(plain, boosted) -> list[tuple]:
    """(rank, without, with, moved, why) rows: the two searches' hits rank by rank."""
    rows = []
    for n in range(max(len(plain.hits), len(boosted.hits))):
        a = plain.hits[n] if n < len(plain.hits) else None
        b = boosted.hits[n] if n < len(boosted.hits) else None
        moved = ""
        if b is not None and b.was_rank is not None and b.was_rank != b.rank:
            moved = f"▲ was {b.was_rank}" if b.was_rank > b.rank else f"▼ was {b.was_rank}"
        rows.append((n + 1, a.row_key if a else "", b.row_key if b else "", moved, why(b) if b else ""))
    return rows


class MemoryPane(Pane):
    BINDINGS = bindings("memory")
    DEFAULT_CSS = """
    MemoryPane #memory-bar { height: 3; }
    MemoryPane #memory-index { width: 24; }
    MemoryPane #memory-status-filter { width: 18; }
    MemoryPane #memory-search { width: 1fr; }
    MemoryPane #memory-status { height: auto; max-height: 3; padding: 0 1; }
    MemoryPane #memory-table { height: 1fr; min-height: 4; }
    MemoryPane #memory-below { height: 1fr; min-height: 5; border-top: solid $panel; }
    MemoryPane #memory-detail { padding: 0 1; }
    """
    index: str = ALL
    status: str = "live"
    searched: str = ""  # the text of the memory search shown ("" : the listing)

    def compose(self) -> ComposeResult:
        with Horizontal(id="memory-bar"):
            yield Select([("all indexes", ALL)], value=ALL, allow_blank=False, id="memory-index")
            yield Select([(s, s) for s in STATUSES], value="live", allow_blank=False, id="memory-status-filter")
            yield TextInput(placeholder=f"search memories by meaning (enter) · {key_of('memory', 'side_by_side')}"
                                        f" on the table: the index with/without memory", id="memory-search")
        yield Static("opening…", id="memory-status")
        yield DataTable(id="memory-table", cursor_type="row", zebra_stripes=True)
        with ContentSwitcher(initial="memory-detail-box", id="memory-below"):
            with VerticalScroll(id="memory-detail-box"):
                yield Static("", id="memory-detail")
            yield DataTable(id="memory-compare", cursor_type="row", zebra_stripes=True)
        self.entries: list = []

    def main_widget(self):
        return self.query_one("#memory-table", DataTable)

    def on_mount(self) -> None:
        self._columns(search=False)
        compare = self.query_one("#memory-compare", DataTable)
        for header in ("rank", "without memory", "with memory", "moved", "why"):
            compare.add_column(header, key=header)

    def _columns(self, search: bool) -> None:
        table = self.query_one("#memory-table", DataTable)
        table.clear(columns=True)
        for header in (["similarity"] if search else []) + COLUMNS:
            table.add_column(header, key=header)

    def _say(self, text) -> None:
        self.query_one("#memory-status", Static).update(text)

    def _notify(self, text: str, error: bool = False) -> None:
        """From a thread worker: a notification (literal: LakehouseApp.notify)."""
        self.app.call_from_thread(self.app.notify, text, severity="error" if error else "information",
                                  timeout=10 if error else 6)

    def _call(self, fn, *args, **kwargs):
        """A facade call from a thread worker: its result, or None when it failed (its one
        sentence said in a notification)."""
        from core.errors import LakehouseError

        try:
            return fn(*args, **kwargs)
        except LakehouseError as e:
            if not self.app.quitting:
                self._notify(said(e), error=True)
            return None

    # -- loading ------------------------------------------------------------------------
    def rescope(self) -> None:
        self.searched = ""
        self.load_indexes()

    @work(thread=True, exclusive=True, group="memory-indexes")
    def load_indexes(self) -> None:
        names = self._call(lambda: [i.name for i in self.lh.indexes()])
        if names is not None:
            self.app.call_from_thread(self._show_indexes, names)

    def _show_indexes(self, names: list[str]) -> None:
        select = self.query_one("#memory-index", Select)
        with select.prevent(Select.Changed):
            select.set_options([("all indexes", ALL)] + [(label(n), n) for n in names])
            self.index = self.index if self.index in names else ALL
            select.value = self.index
        if not names:
            self.entries = []
            self.query_one("#memory-table", DataTable).clear()
            self._say("no indexes yet — embed a text column (Explore, e) to make one; memories belong to an index")
            return
        self.reload()

    def on_show(self) -> None:
        """Shown again: memories may have changed meanwhile (Ask remembers, the CLI, a daemon's other clients)."""
        if self.lh is not None:
            self.reload()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "memory-index":
            self.index = event.value
        elif event.select.id == "memory-status-filter":
            self.status = event.value
        else:
            return
        self.searched = ""
        self.reload()

    def action_cycle_status(self) -> None:
        self.query_one("#memory-status-filter", Select).value = STATUSES[(STATUSES.index(self.status) + 1)
                                                                         % len(STATUSES)]

    def action_reload(self) -> None:
        self.searched = ""
        self.load_indexes()

    def reload(self) -> None:
        """The listing, or the memory search shown, again (after a change)."""
        if self.lh is None:
            return
        if self.searched and self.index != ALL:
            self.find(self.index, self.searched)
        else:
            self.gather(self.index, self.status)

    @work(thread=True, exclusive=True, group="memory-gather")
    def gather(self, index: str, status: str) -> None:
        entries = self._call(self.lh.memory_list, None if index == ALL else index, status, 500)
        if entries is not None:
            self.app.call_from_thread(self._loaded, (index, status, ""), list(reversed(entries)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "memory-search" or self.lh is None:
            return
        text = event.value.strip()
        if not text:
            self.searched = ""
            self.reload()
        elif self.index == ALL:
            self._say(line(("pick an index to search its memories: ", "yellow"), "a memory search embeds the text "
                           "with one index's embedder"))
        else:
            self.searched = text
            self.find(self.index, text)
            self.main_widget().focus()  # the results' keys (retire, revise, side by side) work at once

    @work(thread=True, exclusive=True, group="memory-gather")
    def find(self, index: str, text: str) -> None:
        entries = self._call(self.lh.memory_search, index, text, 20)
        if entries is not None:
            self.app.call_from_thread(self._loaded, (index, "live", text), entries)

    def _loaded(self, asked: tuple, entries: list) -> None:
        index, status, text = asked
        if (index, text) != (self.index, self.searched) or (not text and status != self.status):
            return  # the filter changed while it loaded
        self.entries = entries
        table = self.query_one("#memory-table", DataTable)
        keep = table.cursor_row
        self._columns(search=bool(text))
        for e in entries:
            row = cells(e)
            table.add_row(*([label(f"{e.similarity:.3f}")] if text else []) + row, key=str(e.id))
        where = "every index" if index == ALL else index
        if text:
            self._say(line((where, "bold"), f" · {len(entries)} live memor{'y' if len(entries) == 1 else 'ies'} "
                           f"most like ", (text, "italic"), ("  (an empty search box lists them again)", "dim")))
        else:
            what = "of every status" if status == "all" else status
            self._say(line((where, "bold"), f" · {len(entries)} memor{'y' if len(entries) == 1 else 'ies'} {what}",
                           (f"  ({key_of('memory', 'cycle_status')}: another status)", "dim"),
                           ("\nnone yet: remember an answer in Ask (" + key_of("ask", "remember") + ") or with "
                            "lakehouse memory add", "dim") if not entries and status == "live" else ""))
        if entries:
            table.move_cursor(row=min(max(keep, 0), len(entries) - 1))
            self.show_detail()
        else:
            self.query_one("#memory-detail", Static).update("")

    # -- the highlighted memory ---------------------------------------------------------
    def highlighted(self):
        row = self.query_one("#memory-table", DataTable).cursor_row
        return self.entries[row] if self.entries and 0 <= row < len(self.entries) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "memory-table":
            self.show_detail()

    def show_detail(self) -> None:
        e = self.highlighted()
        self.query_one("#memory-below", ContentSwitcher).current = "memory-detail-box"
        if e is not None and self.lh is not None:
            self.history(e)

    @work(thread=True, exclusive=True, group="memory-detail")
    def history(self, e) -> None:
        """The memory as it is now (another shell may have retired it since the list) and its chain."""
        now = self._call(self.lh.memory_show, e.id)
        chain = self._call(self.lh.memory_history, e.id) if now is not None else None
        if chain is not None:
            self.app.call_from_thread(self._detailed, e, now, chain)

    def _detailed(self, e, now, chain: list) -> None:
        if self.highlighted() is e:
            self.query_one("#memory-detail", Static).update(detail(now, chain))

    # -- retire and revise --------------------------------------------------------------
    def action_retire(self) -> None:
        e = self.highlighted()
        if e is None or self.lh is None:
            return
        self.app.push_screen(ReasonPrompt(f"Retire memory #{e.id} ({e.operation[:40]})? Why:"),
                             lambda answer: answer and self.retire(e.id, answer["reason"]))

    @work(thread=True, group="memory-change")
    def retire(self, entry_id: int, reason: str) -> None:
        if self._call(self.lh.memory_retire, entry_id, reason=reason) is not None:
            self._notify(f"memory #{entry_id} retired: {reason}")
        self.app.call_from_thread(self.reload)

    def action_revise(self) -> None:
        e = self.highlighted()
        if e is None or self.lh is None:
            return
        self.app.push_screen(ReasonPrompt(f"Revise memory #{e.id}: its approach, then why", e.approach),
                             lambda answer: answer and self.revise(e.id, answer["approach"], answer["reason"]))

    @work(thread=True, group="memory-change")
    def revise(self, entry_id: int, approach: str, reason: str) -> None:
        new = self._call(self.lh.memory_revise, entry_id, approach=approach, reason=reason)
        if new is not None:
            self._notify(f"memory #{entry_id} revised: #{new.id} is version {new.version}")
        self.app.call_from_thread(self.reload)

    def action_delete(self) -> None:
        e = self.highlighted()
        if e is None or self.lh is None:
            return
        self.app.push_screen(ReasonPrompt(f"Delete memory #{e.id} ({e.operation[:40]})? Why:"),
                             lambda answer: answer and self.delete(e.id, answer["reason"]))

    @work(thread=True, group="memory-change")
    def delete(self, entry_id: int, reason: str) -> None:
        gone = self._call(self.lh.memory_delete, entry_id, reason=reason)
        if gone is not None:
            self._notify(f"memory #{entry_id} deleted: {reason}")
        self.app.call_from_thread(self.reload)

    def action_journal(self) -> None:
        e = self.highlighted()
        if e is not None and self.lh is not None:
            self.journal(e.id)

    @work(thread=True, exclusive=True, group="memory-detail")
    def journal(self, entry_id: int) -> None:
        rows = self._call(self.lh.memory_journal, entry_id)
        if rows is not None:
            self.app.call_from_thread(self._journaled, entry_id, rows)

    def _journaled(self, entry_id: int, rows: list[dict]) -> None:
        self.query_one("#memory-below", ContentSwitcher).current = "memory-detail-box"
        lines = [line((f"#{entry_id}: its journal, oldest first", "bold"))]
        lines += [line(f"{r['at'][:19].replace('T', ' ')}  ", (r["op"], "bold"), f"  #{r['entry_id']} by {r['actor']}",
                       f" — {r['reason']}" if r.get("reason") else "") for r in rows]
        self.query_one("#memory-detail", Static).update(line(*[p for part in lines for p in (part, "\n")][:-1]))

    # -- the index searched without and with memory -------------------------------------
    def action_side_by_side(self) -> None:
        text = self.query_one("#memory-search", Input).value.strip()
        if self.lh is None:
            return
        if self.index == ALL:
            self._say(line(("pick an index first: ", "yellow"), "the side-by-side search runs on one index"))
        elif not text:
            self._say(line(("type a text to search the index with in the search box first", "yellow")))
        else:
            self.compare(self.index, text)

    @work(thread=True, exclusive=True, group="memory-compare")
    def compare(self, index: str, text: str) -> None:
        plain = self._call(self.lh.search, index, text, K, memory=False)
        boosted = self._call(self.lh.search, index, text, K, memory=True) if plain is not None else None
        if boosted is not None:
            self.app.call_from_thread(self._compared, index, text, side_by_side(plain, boosted), boosted.memory)

    def _compared(self, index: str, text: str, rows: list[tuple], counts: dict | None) -> None:
        table = self.query_one("#memory-compare", DataTable)
        table.clear()
        for rank, a, b, moved, reason in rows:
            style = "bold yellow" if reason else "dim" if moved else ""  # boosted up; pushed down by it
            table.add_row(label(str(rank)), label(a), label((b, style)), label((moved, style)), label(reason))
        self.query_one("#memory-below", ContentSwitcher).current = "memory-compare"
        self.compared, self.compared_query = rows, (index, text)
        self._say(line((index, "bold"), " · ", (text, "italic"), f" without and with memory (k {K}): ",
                       boost_counts(counts) if counts else "no memory boost ran"))

    # -- write-through: a search hit that worked becomes a memory ------------------------
    def action_endorse(self) -> None:
        table = self.query_one("#memory-compare", DataTable)
        rows = getattr(self, "compared", None)
        if self.lh is None or not rows or self.query_one("#memory-below", ContentSwitcher).current != "memory-compare":
            self._say(line(("search with and without memory first", "yellow"), f" ({key_of('memory', 'side_by_side')}),"
                           " then highlight the row that worked"))
            return
        key = rows[min(max(table.cursor_row, 0), len(rows) - 1)][2]
        if key:
            self.endorse(*self.compared_query, key)

    @work(thread=True, group="memory-change")
    def endorse(self, index: str, text: str, key: str) -> None:
        e = self._call(self.lh.memory_add, index, text, [key], approach="endorsed from a search in the workstation")
        if e is not None:
            said_as = {"ADD": "added", "UPDATE": "updated", "NOOP": "unchanged (remembered before)"}[e.action]
            self._notify(f"memory #{e.id} {said_as}: {key} worked for “{text}”")
            self.app.call_from_thread(self.reload)


"""The search screen: an index's rows by meaning. Pick an index, type a query, optionally a
SQL condition on the index's dataset (its column names completed as they are typed), k and
the memory boost; enter searches in a thread worker (a newer search replaces an older one's
hits). Enter on a hit opens its source row in the SQL pane, ctrl+l every hit's; ctrl+t
compares two generations of the index side by side with their overlap@k.

Everything goes through the facade (`app.lh`), in-process or a daemon's proxy. Passages,
cells, names and error sentences come from files, users and the network: they are shown
as literal, inert text (panes.base), never markup. The screen's result is the SELECT to
open in the SQL pane (the app runs it), or None.
"""

from __future__ import annotations

import re

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static

from panes.base import TextInput, label, line, literal, said
from panes.keys import bindings, key_of

K_DEFAULT = 10
DETAIL_MAX = 2000  # characters of one value in the detail under the table: a huge cell is cut there
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


class ColumnSuggester(Suggester):
    """Completes the word being typed at the end of the where box with a column of the
    index's dataset (case-insensitive; not inside a quoted string)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.columns: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        return complete_word(value, self.columns)


def complete_word(value: str, columns: list[str]) -> str | None:
    """`value` with its last word completed by the first column it starts, or None."""
    if value.count("'") % 2:  # inside a string literal: a value, not a column
        return None
    m = _WORD.search(value)
    if not m:
        return None
    stem = m.group(0)
    for c in columns:
        if len(c) > len(stem) and c.lower().startswith(stem.lower()):
            return value + c[len(stem):]
    return None


def cut(value: object, width: int) -> str:
    """A value on one line, at most `width` characters (… marks a cut)."""
    text = "∅" if value is None else " ".join(str(value).split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def ready_gens(info) -> list:
    return [g for g in info.generations if g.status == "ready"]


def compare_defaults(info) -> tuple[str | None, str | None]:
    """The two generations compared first: the active one and the one before it (else the
    newest other ready one), as `name@gN` selectors."""
    gens = [g.gen for g in ready_gens(info)]
    if len(gens) < 2:
        return None, None
    a = info.active_gen if info.active_gen in gens else gens[-1]
    older = [g for g in gens if g < a]
    b = older[-1] if older else next(g for g in reversed(gens) if g != a)
    return f"{info.name}@g{a}", f"{info.name}@g{b}"


def search_line(res) -> Content:
    """What a search did, in words: generation, embedder, strategy, filter, memory, time."""
    parts = [f"{res.index} g{res.gen} · {res.embedder} · {res.strategy} · {len(res.hits)} hit(s)"]
    if res.passed_filter is not None:
        parts.append(f"{res.passed_filter:,} of {res.chunks:,} chunks pass the where")
    if res.memory is not None:
        parts.append(f"memory boost: {res.memory.get('hits_boosted', 0)} hit(s) boosted, "
                     f"{res.memory.get('moved', 0)} moved")
    parts.append(f"{res.timings_ms.get('total_ms', 0):.0f} ms")
    head = ("no hits: " if not res.hits else "", "bold")
    return line(head, " · ".join(parts))


def overlap_line(cmp: dict) -> Content:
    """Overlap@k in words: how many of the top rows both generations return."""
    a, b, k = cmp["a"], cmp["b"], cmp["k"]
    both = len({h.row_key for h in a.hits} & {h.row_key for h in b.hits})
    return line((f"overlap@{k}: ", "bold"), f"{both} of the top {max(len(a.hits), len(b.hits))} rows are in both "
                f"({cmp['overlap']:.0%}) — left g{a.gen} ({a.strategy}), right g{b.gen} ({b.strategy}); "
                "'only' marks a row the other generation does not return")


class SearchScreen(ModalScreen):
    """Search an index by meaning; compare two of its generations. Escape closes."""

    AUTO_FOCUS = "#search-query"
    BINDINGS = bindings("search")
    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    #search { width: 100%; max-width: 200; height: 100%; max-height: 60; border: thick $primary;
              background: $surface; padding: 0 1; }
    #search .search-row { height: 1; }
    #search Label { width: 8; }
    #search Input { width: 1fr; }
    #search #search-index { width: 1fr; }
    #search #search-k { width: 6; }
    #search #search-memory { width: auto; margin-left: 2; }
    #search .gen { width: 1fr; }
    #search-gens.-hidden, #search-b.-hidden { display: none; }
    #search-info { height: auto; max-height: 3; }
    #search-results { height: 1fr; min-height: 4; }
    #search-a, #search-b { width: 1fr; height: 1fr; }
    #search-b { margin-left: 1; }
    #search-detail-box { height: auto; max-height: 5; }
    """

    def __init__(self, index: str | None = None, dataset: str | None = None) -> None:
        super().__init__()
        self._wanted = (index, dataset)  # where it opens: this index, else this dataset's first
        self._indexes: dict[str, object] = {}  # name -> IndexInfo (refreshed when picked)
        self._seq = 0  # the newest search: an older one's answer is dropped
        self._shown: dict[str, list] = {"search-a": [], "search-b": []}  # each table's hits
        self._dataset: str | None = None  # the shown hits' dataset
        self.compare = False

    def compose(self) -> ComposeResult:
        def field(title: str, widget) -> ComposeResult:
            yield Label(title)
            yield widget

        with Vertical(id="search"):
            yield Static(line(("Search by meaning", "bold"), f"  — enter searches; enter on a hit opens its row "
                              f"in SQL, {key_of('search', 'open_all')} all hits'; {key_of('search', 'toggle_compare')} "
                              "compares two generations; escape closes"), id="search-head")
            with Horizontal(classes="search-row"):
                yield from field("index", Select([], prompt="pick an index", id="search-index", compact=True))
                yield from field("  k", TextInput(str(K_DEFAULT), type="integer", id="search-k", compact=True))
                yield Checkbox("memory boost off", id="search-memory", compact=True)
            with Horizontal(classes="search-row"):
                yield from field("query", TextInput(placeholder="what to look for, in words", id="search-query",
                                                    compact=True))
            with Horizontal(classes="search-row"):
                yield from field("where", TextInput(placeholder="optional SQL condition on the dataset, e.g. "
                                                    "state = 'IL' (→ completes a column)",
                                                    suggester=ColumnSuggester(),
                                                    id="search-where", compact=True))
            with Horizontal(classes="search-row -hidden", id="search-gens"):
                yield from field("left", Select([], prompt="generation", id="search-gen-a", classes="gen",
                                                 compact=True))
                yield from field("  right", Select([], prompt="generation", id="search-gen-b", classes="gen",
                                                   compact=True))
            yield Static(literal("opening the indexes…"), id="search-info")
            with Horizontal(id="search-results"):
                yield DataTable(id="search-a", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="search-b", cursor_type="row", zebra_stripes=True, classes="-hidden")
            with VerticalScroll(id="search-detail-box"):
                yield Static("", id="search-detail")

    def _back(self, fn, *args) -> None:
        """From a worker: `fn` on the event loop, unless the screen closed meanwhile."""
        self.app.call_from_thread(lambda: fn(*args) if self.is_attached else None)

    # -- the indexes -------------------------------------------------------------------------
    def _info(self, text) -> None:
        self.query_one("#search-info", Static).update(text if isinstance(text, Content) else literal(text))

    def on_mount(self) -> None:
        if self.app.lh is None:
            self._info("the storage root is still opening — close this and try again in a moment")
            return
        self.load()

    @work(thread=True, exclusive=True, group="search-load")
    def load(self) -> None:
        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            indexes = lh.indexes()
            memory = lh.profile.memory if lh.profile.memory is not None else bool(lh.config.get("memory.search"))
        except LakehouseError as e:
            self._back(self._info, line(("refused: ", "bold"), said(e)))
            return
        self._back(self._fill_indexes, indexes, memory)

    def _fill_indexes(self, indexes: list, memory: bool) -> None:
        self._indexes = {i.name: i for i in indexes}
        self.query_one("#search-memory", Checkbox).value = memory
        if not indexes:
            self._info("no index this profile searches — embed a text column first (e on a column in Explore)")
            return
        index, dataset = self._wanted
        first = (index if index in self._indexes else
                 next((i.name for i in indexes if i.dataset == dataset), indexes[0].name))
        select = self.query_one("#search-index", Select)
        select.set_options([(label(i.name, (f"  {i.dataset}.{i.column}", "dim")), i.name) for i in indexes])
        select.value = first
        if index and index not in self._indexes:
            self._info(f"index {index} is not one this profile searches — showing {first}")
        else:
            self._info("type a query and press enter")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        """Its state in a word too: a checkbox's mark differs by colour alone."""
        event.stop()
        event.checkbox.label = f"memory boost {'on' if event.value else 'off'}"

    def _index(self) -> str | None:
        value = self.query_one("#search-index", Select).value
        return value if isinstance(value, str) else None

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "search-index" and isinstance(event.value, str):
            self.picked(event.value)

    @work(thread=True, exclusive=True, group="search-index")
    def picked(self, name: str) -> None:
        """The picked index afresh (its generations) and its dataset's columns for the where box."""
        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            info = lh.index(name)
        except LakehouseError as e:
            self._back(self._info, line(("refused: ", "bold"), said(e)))
            return
        try:
            columns = [c.name for c in lh.dataset(info.dataset).columns]
        except LakehouseError:  # the dataset went away: the search will say so
            columns = []
        self._back(self._picked, info, columns)

    def _picked(self, info, columns: list[str]) -> None:
        self._indexes[info.name] = info
        self.query_one("#search-where", Input).suggester.columns = columns
        opts = [(label(f"g{g.gen}", " active" if g.active else "", (f" · {g.chunks:,} chunks · {g.embedder}", "dim")),
                 f"{info.name}@g{g.gen}") for g in ready_gens(info)]
        a, b = compare_defaults(info)
        for wid, value in (("#search-gen-a", a), ("#search-gen-b", b)):
            select = self.query_one(wid, Select)
            select.set_options(opts)
            if value is not None:
                select.value = value
        if self.compare and a is None:
            self._set_compare(False)
            self._info(self._one_gen(info))

    @staticmethod
    def _one_gen(info) -> str:
        return (f"index {info.name} has {len(ready_gens(info))} ready generation(s) — comparing needs two: embed "
                "it again with other settings to make another")

    # -- searching ---------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_search()

    def action_search(self) -> None:
        index, text = self._index(), self.query_one("#search-query", Input).value
        if self.app.lh is None or index is None:
            self._info("no index picked — pick one in the index box")
            return
        k_text = self.query_one("#search-k", Input).value.strip()
        try:
            k = int(k_text) if k_text else K_DEFAULT
        except ValueError:
            self._info(f"k must be a whole number, got {k_text!r} — type how many hits to show")
            return
        where = self.query_one("#search-where", Input).value.strip() or None
        req = {"index": index, "text": text, "k": k, "where": where,
               "memory": self.query_one("#search-memory", Checkbox).value}
        if self.compare:
            a, b = (self.query_one(w, Select).value for w in ("#search-gen-a", "#search-gen-b"))
            if not (isinstance(a, str) and isinstance(b, str)):
                self._info("pick the two generations to compare")
                return
            req.update(a=a, b=b)
        self._seq += 1
        self._info(f"searching {index}…")
        self.run_search(self._seq, req)

    @work(thread=True, exclusive=True, group="search")
    def run_search(self, seq: int, req: dict) -> None:
        from textual.worker import get_current_worker

        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            if "a" in req:
                res = lh.compare(req["a"], req["b"], req["text"], req["k"], where=req["where"])
            else:
                res = lh.search(req["index"], req["text"], req["k"], where=req["where"], memory=req["memory"])
        except LakehouseError as e:
            res = e
        if not get_current_worker().is_cancelled:
            self._back(self._show, seq, res)

    def _show(self, seq: int, res) -> None:
        if seq != self._seq:  # a newer search was asked for meanwhile
            return
        if isinstance(res, Exception):  # a refusal: its one sentence; the hits it refused are gone
            self._info(line(("refused: ", "bold"), said(res)))
            self._fill("search-a", None, None)
            self._fill("search-b", None, None)
            return
        if isinstance(res, dict):
            self._info(overlap_line(res))
            keys_a, keys_b = ({h.row_key for h in r.hits} for r in (res["a"], res["b"]))
            self._fill("search-b", res["b"], keys_a)  # the left last: its top hit is the one detailed
            self._fill("search-a", res["a"], keys_b)
        else:
            self._info(search_line(res))
            self._fill("search-a", res, None)
            self._fill("search-b", None, None)
        table = self.query_one("#search-a", DataTable)
        if table.row_count:
            table.focus()

    def _fill(self, wid: str, res, others: set | None) -> None:
        """One hit list: rank, score (and boost, or whether the other side has the row),
        the passage cut to fit, then the row's fields (the embedded column aside: the passage
        is from it). Every cell literal and inert."""
        table = self.query_one(f"#{wid}", DataTable)
        table.clear(columns=True)
        self._shown[wid] = res.hits if res is not None else []
        if res is None:
            self.query_one("#search-detail", Static).update("")
            return
        self._dataset = res.hits[0].dataset if res.hits else self._dataset
        fields = [f for f in next((list(h.row) for h in res.hits if h.row), []) if f != res.column]
        width = self.size.width // (6 if others is not None else 3)
        cols = ["#", "score"] + (["boost"] if res.memory is not None else []) + \
               (["other"] if others is not None else []) + ["passage"] + fields
        for c in cols:
            table.add_column(label(c))
        for h in res.hits:
            row = h.row or {}
            cells = [str(h.rank), f"{h.score:.3f}"]
            if res.memory is not None:
                cells.append(f"+{h.boost:.3f} was {h.was_rank}" if h.boost else "")
            if others is not None:
                cells.append("both" if h.row_key in others else "only")
            cells.append(cut(h.text, max(width, 20)))
            cells += [cut(row.get(f), 24) if h.row is not None else "(row gone)" for f in fields]
            table.add_row(*(label(c) for c in cells))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._detail(event.data_table)

    def on_descendant_focus(self, event) -> None:
        """Tab to the other side of a compare: the detail follows the focused list."""
        if isinstance(event.widget, DataTable):
            self._detail(event.widget)

    def _detail(self, table: DataTable) -> None:
        hits = self._shown.get(table.id or "", [])
        if 0 <= table.cursor_row < len(hits):
            self.query_one("#search-detail", Static).update(detail(hits[table.cursor_row]))

    # -- opening rows in SQL -----------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a hit: its source row in the SQL pane."""
        event.stop()
        hits = self._shown.get(event.data_table.id or "", [])
        if 0 <= event.cursor_row < len(hits):
            hit = hits[event.cursor_row]
            self.open_rows(hit.dataset, [hit.row_key])

    def action_open_all(self) -> None:
        keys = list(dict.fromkeys(h.row_key for hits in self._shown.values() for h in hits))
        if not keys or self._dataset is None:
            self._info("no hits to open — search first")
            return
        self.open_rows(self._dataset, keys)

    @work(thread=True, exclusive=True, group="search-open")
    def open_rows(self, dataset: str, keys: list[str]) -> None:
        from core.errors import LakehouseError

        try:
            sql = self.app.lh.rows_query(dataset, keys)
        except LakehouseError as e:
            self._back(self._info, line(("refused: ", "bold"), said(e)))
            return
        self._back(self.dismiss, sql)

    # -- compare mode ------------------------------------------------------------------------
    def action_toggle_compare(self) -> None:
        """Two generations side by side, or back to one search."""
        if not self.compare:
            info = self._indexes.get(self._index() or "")
            if info is None:
                self._info("no index picked — pick one in the index box")
                return
            if compare_defaults(info)[0] is None:
                self._info(self._one_gen(info))
                return
        self._set_compare(not self.compare)
        self._info("compare: pick the two generations, then enter in the query box" if self.compare
                   else "one search: enter in the query box")

    def _set_compare(self, on: bool) -> None:
        self.compare = on
        for wid in ("#search-gens", "#search-b"):
            self.query_one(wid).set_class(not on, "-hidden")
        self.query_one("#search-memory", Checkbox).disabled = on  # compare ranks without memory
        self._fill("search-a", None, None)
        self._fill("search-b", None, None)

    def action_close(self) -> None:
        """Escape: close; a search still running is dropped with the screen."""
        self.dismiss(None)


def detail(hit) -> Content:
    """A hit in full under the table: its key, whole passage and row (a huge value cut)."""
    parts = [(f"#{hit.rank} {hit.row_key}", "bold"), f" (chunk {hit.chunk_id}): ", cut_long(hit.text)]
    if hit.row is None:
        parts.append(("\nits row no longer exists", "italic"))
    for name, value in (hit.row or {}).items():
        parts += ["\n", (f"{name}: ", "bold"), cut_long("∅" if value is None else value)]
    return line(*parts)


def cut_long(value: object) -> str:
    text = str(value)
    if len(text) <= DETAIL_MAX:
        return text
    return text[:DETAIL_MAX] + f"… ({len(text):,} characters; enter opens the row)"

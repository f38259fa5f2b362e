"""The Explore pane: the catalog as a tree, and the selected dataset in detail. Space expands a node; enter queries it.

Datasets, indexes and system tables are top-level branches; a dataset's columns load
when it is expanded. Selecting a dataset shows its schema, description, owner, tags,
primary key, lineage, versions and a sample; enter opens a query on it in the SQL
pane, p pins or unpins it.

Thousands of datasets: the tree is filled from one catalog query with one node per
dataset (labels built as Text, no markup to parse), and while the cursor moves fast
the detail waits until it rests (DETAIL_DELAY_S), so only the row it stops on is
described; a detail that arrives for a row no longer highlighted is dropped.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, Tree

from .base import Pane

SYSTEM = ("_datasets", "_jobs", "_errors", "_journal", "_indexes", "_index_events", "_asks", "_audit")
DETAIL_DELAY_S = 0.12  # a highlight sooner than this after the last one waits until the cursor rests


class ExplorePane(Pane):
    BINDINGS = [Binding("enter", "query", "Query it", show=True, priority=True), Binding("p", "pin", "Pin/unpin"),
                Binding("e", "embed", "Embed column"), Binding("r", "reload", "Reload")]

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Tree("catalog", id="explore-tree")
            with VerticalScroll(id="explore-detail"):
                yield Static("opening the storage root…", id="explore-info")
                yield Static(id="explore-sample")

    def focus_main(self) -> None:
        self.query_one(Tree).focus()

    def rescope(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="explore")
    def load(self) -> None:
        datasets = self.lh.datasets()
        indexes = self.lh.indexes()
        self.app.call_from_thread(self._fill, datasets, indexes)

    def _fill(self, datasets, indexes) -> None:
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.label = f"profile {self.lh.profile.id}"
        tree.root.expand()
        ds = tree.root.add(f"datasets ({len(datasets)})", expand=True)
        for d in datasets:  # columns load on expand (a dataset node starts with no children)
            pin = " 📌" if d.pinned else ""
            owner = f" · {d.owner}" if d.owner else ""
            tags = f" · #{' #'.join(d.tags)}" if d.tags else ""
            ds.add(Text.assemble(d.name, (f"  {d.row_count:,} rows{owner}{tags}", "dim"), pin),
                   data=("dataset", d.name))
        ix = tree.root.add(f"indexes ({len(indexes)})", expand=bool(indexes))
        for i in indexes:
            a = i.active
            gen = f"g{i.active_gen} · {a.embedder} · {a.chunks:,} chunks" if a else "no active generation"
            stale = " · [yellow]stale[/]" if i.stale else ""
            ix.add_leaf(f"{i.name}  [dim]{i.dataset}.{i.column} · {gen}[/]{stale}", data=("index", i.name))
        sysnode = tree.root.add("system tables", expand=False)
        for t in SYSTEM:
            sysnode.add_leaf(t, data=("system", t))
        self.query_one("#explore-info", Static).update(
            f"{len(datasets)} dataset(s) and {len(indexes)} index(es) in profile {self.lh.profile.id} — "
            "select one; enter queries it")

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        node = event.node
        if node.data and node.data[0] == "dataset" and not node.children:
            self.columns(node)

    @work(thread=True, group="explore-columns")
    def columns(self, node) -> None:
        d = self.lh.dataset(node.data[1])
        self.app.call_from_thread(self._add_columns, node, d)

    def _add_columns(self, node, d) -> None:
        node.remove_children()
        for c in d.columns:
            key = " 🔑" if c.name in d.primary_key else ""
            node.add_leaf(f"{c.name}  [dim]{c.type}[/]{key}", data=("column", d.name, c.name))

    def selected(self) -> tuple | None:
        node = self.query_one(Tree).cursor_node
        return node.data if node is not None else None

    _wanted: tuple | None = None  # the node whose detail should show
    _last_highlight = 0.0
    _detail_timer = None

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if not data or data[0] not in ("dataset", "system", "index"):
            return
        self._wanted = data
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        now = time.monotonic()
        resting = now - self._last_highlight > DETAIL_DELAY_S
        self._last_highlight = now
        if resting:  # a single move: at once
            self.detail(data)
        else:  # moving fast: only where the cursor comes to rest
            self._detail_timer = self.set_timer(DETAIL_DELAY_S, lambda: self.detail(data))

    @work(thread=True, exclusive=True, group="explore-detail")
    def detail(self, data: tuple) -> None:
        from textual.worker import get_current_worker

        from core.errors import LakehouseError

        kind, name = data[0], data[1]
        if data != self._wanted:
            return
        try:
            if kind == "dataset":
                desc = self.lh.describe(name, sample_rows=8)
                versions = self.lh.versions(name)[-5:]
                text = _dataset_text(desc, versions)
                sample = desc.sample
            elif kind == "index":
                info = self.lh.index(name)
                text = "\n".join([f"[b]{name}[/] over {info.dataset}.{info.column} (key {', '.join(info.key)})"] + [
                    f"{'*' if g.active else ' '}g{g.gen} {g.status} · {g.embedder} · {g.kind} "
                    f"M{g.m}/efc{g.ef_construction}/ef{g.ef_search} · {g.chunks:,} chunks · "
                    f"dataset v{g.dataset_version}" for g in info.generations])
                sample = None
            else:
                sample = self.lh.sql(f"SELECT * FROM {name} ORDER BY 1 DESC LIMIT 20")
                text = f"[b]{name}[/] — system table, queryable in SQL"
        except LakehouseError as e:
            text, sample = f"[red]{e}[/]", None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_detail, data, text, sample)

    def _show_detail(self, data: tuple, text: str, sample) -> None:
        if data != self._wanted:  # the cursor moved on meanwhile
            return
        self.query_one("#explore-info", Static).update(text)
        box = self.query_one("#explore-sample", Static)
        if sample is None:
            box.update("")
            return
        from rich.table import Table

        t = Table(show_lines=False, header_style="bold")
        for c in sample.column_names:
            t.add_column(c, overflow="ellipsis", max_width=30, no_wrap=True)
        for row in sample.to_pylist():
            t.add_row(*("∅" if v is None else str(v)[:60] for v in row.values()))
        box.update(t)

    def action_query(self) -> None:
        data = self.selected()
        if not data or data[0] not in ("dataset", "system", "column"):
            return
        name = data[1]
        cols = f'"{data[2]}", count(*) AS n' if data[0] == "column" else "*"
        tail = ' GROUP BY 1 ORDER BY n DESC' if data[0] == "column" else ""
        q = f'SELECT {cols} FROM "{name}"{tail} LIMIT 100'
        from .sql import SqlPane

        self.app.action_pane("sql")
        self.app.query_one(SqlPane).set_query(q)

    def action_embed(self) -> None:
        """e on a text column: embed it into an index (DATASET_COLUMN), as a job."""
        data = self.selected()
        if not data or data[0] != "column":
            self.app.notify("select a text column (expand a dataset with space) to embed it", severity="warning")
            return
        self.embed(data[1], data[2])

    @work(thread=True, group="explore-embed")
    def embed(self, dataset: str, column: str) -> None:
        from core.errors import LakehouseError

        def progress(ev) -> None:
            if ev.total:
                self.app.call_from_thread(self.query_one("#explore-info", Static).update,
                                          f"embedding {dataset}.{column}: {int(ev.done):,}/{int(ev.total):,} "
                                          f"{ev.unit} — {ev.message}")
        try:
            r = self.lh.embed(dataset, column, progress=progress)
        except LakehouseError as e:
            self.app.call_from_thread(self.app.notify, str(e), severity="error", timeout=10)
            return
        self.app.call_from_thread(self.app.notify, f"{r.index} g{r.gen}: {r.chunks:,} chunks "
                                                   f"({r.embedded:,} embedded) · {r.embedder}")
        self.load()

    def action_pin(self) -> None:
        data = self.selected()
        if data and data[0] == "dataset":
            self.toggle_pin(data[1])

    @work(thread=True, group="explore-pin")
    def toggle_pin(self, name: str) -> None:
        d = self.lh.dataset(name)
        (self.lh.unpin if d.pinned else self.lh.pin)(name)
        self.app.call_from_thread(self.app.notify, f"{name} {'unpinned' if d.pinned else 'pinned'}")
        self.load()


def _dataset_text(desc, versions) -> str:
    d = desc.dataset
    lines = [f"[b]{d.name}[/]  {d.row_count:,} rows · {len(d.columns)} columns · version {d.table_version}"
             + (" · pinned" if d.pinned else "")]
    if d.description:
        lines.append(d.description)
    meta = [f"owner {d.owner}" if d.owner else "", f"tags {', '.join(d.tags)}" if d.tags else "",
            f"key {', '.join(d.primary_key)}" if d.primary_key else ""]
    if any(meta):
        lines.append(" · ".join(m for m in meta if m))
    lines.append("columns: " + ", ".join(f"{c.name} [dim]{c.type}[/]" for c in d.columns))
    for lin in desc.lineage[-3:]:
        lines.append(f"lineage: {lin.source_uri} → v{lin.table_version} ({lin.rows:,} rows, {lin.mode})")
    for v in versions:
        lines.append(f"v{v['version']} {v['timestamp'][:19].replace('T', ' ')} {v['operation']} {v['rows']:,} rows "
                     f"{v['actor']} {v['reason']}")
    return "\n".join(lines)

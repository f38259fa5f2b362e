"""The Explore pane: the catalog as a tree, and the selected dataset in detail. Space expands a node; enter queries it.

Datasets, indexes and system tables are top-level branches; a dataset's columns load
when it is expanded. Selecting a dataset shows its schema, description, owner, tags,
primary key, lineage, versions and a sample; enter opens a query on it in the SQL
pane, p pins or unpins it. Selecting a column shows its profile (Lakehouse.column_profile)
drawn: the figures and a histogram or top-values chart (panes/column_chart.py), computed
in the detail worker; a newer selection interrupts the older profile's query.

Thousands of datasets: the tree is filled from one catalog query with one node per
dataset (labels built as Text, no markup to parse), and while the cursor moves fast
the detail waits until it rests (DETAIL_DELAY_S), so only the row it stops on is
described; a detail that arrives for a row no longer highlighted is dropped.
"""

from __future__ import annotations

import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static, Tree

from core.query.engine import SYSTEM_TABLES
from core.text import count

from .base import Pane, label, line, literal, said
from .column_chart import chart, profile_text
from .grid import record_grid
from .keys import bindings, key_of
from .messages import EmbedColumn, Govern, OpenIndex, OpenInSql, OpenVersions, SearchIndex

SYSTEM = SYSTEM_TABLES  # the one list, in the order Explore shows them
DETAIL_DELAY_S = 0.12  # a highlight sooner than this after the last one waits until the cursor rests


class ExplorePane(Pane):
    BINDINGS = bindings("explore")

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Tree("catalog", id="explore-tree")
            with Vertical(id="explore-detail"):
                with VerticalScroll(id="explore-info-box"):
                    yield Static("opening the storage root…", id="explore-info")
                yield Container(id="explore-sample")  # a scrollable table, so no column is squeezed to nothing

    def main_widget(self):
        return self.query_one(Tree)

    def rescope(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="explore")
    def load(self) -> None:
        datasets = self.lh.datasets()
        indexes = self.lh.indexes()
        try:
            self._fresh = self.lh.freshness()  # {dataset: "ok" | "stale 2h over"} by contract max_age
        except Exception:  # noqa: BLE001 - an older daemon: no flags
            self._fresh = {}
        self.app.call_from_thread(self._fill, datasets, indexes)

    def _fill(self, datasets, indexes) -> None:
        tree = self.query_one(Tree)
        was = self.selected()  # after a reload (pin, embed, r) the cursor goes back to it
        tree.clear()
        # every label is literal text (names and tags come from files and users: never markup)
        tree.root.label = label(f"profile {self.lh.profile.id}")
        tree.root.expand()
        ds = tree.root.add(f"datasets ({len(datasets)})", expand=True)
        for d in datasets:  # columns load on expand (a dataset node starts with no children)
            pin = " 📌" if d.pinned else ""
            owner = f" · {d.owner}" if d.owner else ""
            tags = f" · #{' #'.join(d.tags)}" if d.tags else ""
            flag = getattr(self, "_fresh", {}).get(d.name, "")
            stale = (" · ", (flag, "yellow")) if flag.startswith("stale") else ()  # a word, not colour alone
            ds.add(label(d.name, (f"  {count(d.row_count, 'row')}{owner}{tags}", "dim"), *stale, pin),
                   data=("dataset", d.name))
        ix = tree.root.add(f"indexes ({len(indexes)})", expand=bool(indexes))
        for i in indexes:
            a = i.active
            gen = f"g{i.active_gen} · {a.embedder} · {a.chunks:,} chunks" if a else "no active generation"
            stale = (" · ", ("stale", "yellow")) if i.stale else ()
            ix.add_leaf(label(i.name, "  ", (f"{i.dataset}.{i.column} · {gen}", "dim"), *stale), data=("index", i.name))
        sysnode = tree.root.add("system tables", expand=False)
        for t in SYSTEM:
            sysnode.add_leaf(t, data=("system", t))
        # what was shown belongs to the old tree: the summary until the cursor is back on a node
        self._wanted = None
        self.query_one("#explore-info", Static).update(literal(
            f"{len(datasets)} dataset(s) and {len(indexes)} index(es) in profile {self.lh.profile.id} — "
            "select one; enter queries it"))
        self._show_sample(None)
        if was:
            key = ("dataset", was[1]) if was[0] == "column" else was[:2]
            for branch in (ds, ix, sysnode):
                node = next((n for n in branch.children if n.data == key), None)
                if node is not None:
                    branch.expand()
                    tree.call_after_refresh(self._back_to, node)
                    if was[0] == "column":  # a tag changed: the column again, its tag shown
                        self._reselect = was
                        node.expand()
                    break

    def _back_to(self, node) -> None:
        """The cursor back on `node` after a reload, with its detail read afresh (the cursor
        may land on the same line, which is no highlight)."""
        self.query_one(Tree).move_cursor(node)
        self._wanted = node.data
        self.detail(node.data)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        node = event.node
        if node.data and node.data[0] == "dataset" and not node.children:
            self.columns(node)

    @work(thread=True, group="explore-columns")
    def columns(self, node) -> None:
        d = self.lh.dataset(node.data[1])
        tags = {t.column: t.tag for t in self.lh.tags(d.name) if t.tag}
        self.app.call_from_thread(self._add_columns, node, d, tags)

    _reselect: tuple | None = None  # the column the cursor was on before a reload

    def _add_columns(self, node, d, tags: dict) -> None:
        node.remove_children()
        for c in d.columns:
            key = " 🔑" if c.name in d.primary_key else ""
            tag = ("  " + tags[c.name], "bold") if c.name in tags else ""  # a word: seen without colour
            leaf = node.add_leaf(label(c.name, "  ", (c.type, "dim"), key, tag), data=("column", d.name, c.name))
            if leaf.data == self._reselect:
                self._reselect = None
                self.query_one(Tree).call_after_refresh(self._back_to, leaf)

    def selected(self) -> tuple | None:
        node = self.query_one(Tree).cursor_node
        return node.data if node is not None else None

    _wanted: tuple | None = None  # the node whose detail should show
    _last_highlight = 0.0
    _detail_timer = None

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if not data or data[0] not in ("dataset", "system", "index", "column"):
            return
        self._wanted = data
        self._stop_profile(data)
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
            if kind == "column":
                text, sample = self._profile(data)
            elif kind == "dataset":
                desc = self.lh.describe(name, sample_rows=8)
                versions = self.lh.versions(name)[-5:]
                text = _dataset_text(desc, versions)
                sample = desc.sample
            elif kind == "index":
                info = self.lh.index(name)
                keys = f"  ({key_of('explore', 'generations')}: its generations — promote, roll back, drop, verify)"
                text = Content("\n").join([
                    line((name, "bold"), f" over {info.dataset}.{info.column} (key {', '.join(info.key)})",
                         (keys, "dim")), *(
                        literal(f"{'*' if g.active else ' '}g{g.gen} {g.status} · {g.embedder} · {g.kind} "
                                f"M{g.m}/efc{g.ef_construction}/ef{g.ef_search} · {g.chunks:,} chunks · "
                                f"dataset v{g.dataset_version}") for g in info.generations)])
                sample = None
            else:
                sample = self.lh.sql(f"SELECT * FROM {name} ORDER BY 1 DESC LIMIT 20")
                text = line((name, "bold"), " — system table, queryable in SQL")
        except LakehouseError as e:
            text, sample = literal(said(e), "red"), None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_detail, data, text, sample)

    def _show_detail(self, data: tuple, text: Content, sample) -> None:
        from textual.css.query import NoMatches
        from textual.widget import MountError

        if data != self._wanted or not self.is_attached:  # the cursor moved on, or the app is closing
            return
        try:
            self.query_one("#explore-info", Static).update(text)
            self._show_sample(sample, data)
        except (NoMatches, MountError):  # the app is closing: the pane's widgets went first (a profile came late)
            pass

    _profiling: dict | None = None  # worker thread -> the column whose profile it computes

    def _profile(self, data: tuple):
        """A column's profile (in the detail worker): "computing…" until it is there."""
        self.app.call_from_thread(self._show_detail, data, literal(f"computing the profile of {data[1]}.{data[2]}…"),
                                  None)
        running = self.__dict__.setdefault("_profiling", {})  # atomic: two workers may start at once
        running[threading.get_ident()] = data
        try:
            p = self.lh.column_profile(data[1], data[2])
        finally:
            running.pop(threading.get_ident(), None)
        return profile_text(p), p

    def _stop_profile(self, data: tuple) -> None:
        """A newer selection stops the profiles still computing for other columns (their
        queries are interrupted; a result that still comes is dropped by _show_detail)."""
        for thread, busy in list((self._profiling or {}).items()):
            if busy != data:
                self._interrupt_profile(thread)

    def _interrupt_profile(self, thread: int) -> None:
        """Interrupt that worker's query, and again every 50 ms until it ends: DuckDB forgets
        an interrupt that comes before its query has started."""
        if thread in (self._profiling or {}):
            self.lh.interrupt_sql(thread=thread)
            self.set_timer(0.05, lambda: self._interrupt_profile(thread))

    def _show_sample(self, sample, data: tuple | None = None) -> None:
        """The sample rows in a table that scrolls sideways, a column profile's chart, or
        nothing. Not awaited, so two calls in a row cannot interleave and leave two tables."""
        box = self.query_one("#explore-sample", Container)
        box.remove_children()
        if isinstance(sample, dict):  # a column profile
            drawn = chart(sample)
            if drawn is not None:
                box.mount(drawn)
        elif sample is not None and sample.num_columns:  # cells and column names literal and inert
            # e, d and h on a cell of a dataset's sample: its record (app/tui/records.py)
            box.mount(record_grid(sample, source=("explore", *(data or ("none", "these rows"))[:2]),
                                  max_column_content_width=30, null_rep="∅"))

    def action_query(self) -> None:
        data = self.selected()
        if not data or data[0] not in ("dataset", "system", "column"):
            return
        name = data[1]
        cols = f'"{data[2]}", count(*) AS n' if data[0] == "column" else "*"
        tail = ' GROUP BY 1 ORDER BY n DESC' if data[0] == "column" else ""
        q = f'SELECT {cols} FROM "{name}"{tail} LIMIT 100'
        self.post_message(OpenInSql(q))

    def action_embed(self) -> None:
        """e on a text column: the embed form for it (the app opens it; app/tui/embed.py)."""
        data = self.selected()
        if not data or data[0] != "column":
            self.app.notify("select a text column (expand a dataset with space) to embed it", severity="warning")
            return
        self.post_message(EmbedColumn(data[1], data[2]))

    def action_search(self) -> None:
        """s: search by meaning — on the selected index, the selected dataset's first index, or the first."""
        data = self.selected() or ()
        kind = data[0] if data else None
        self.post_message(SearchIndex(index=data[1] if kind == "index" else None,
                                      dataset=data[1] if kind in ("dataset", "column") else None))

    def action_generations(self) -> None:
        """g on an index: its generations (app/tui/indexes.py)."""
        data = self.selected()
        if not data or data[0] != "index":
            self.app.notify("select an index (under indexes) to see its generations", severity="warning")
            return
        self.post_message(OpenIndex(data[1]))

    def action_annotate(self) -> None:
        """a: the selected dataset's (or column's dataset's) description, owner and tags."""
        data = self.selected()
        if not data or data[0] not in ("dataset", "column"):
            self.app.notify("select a dataset to annotate it", severity="warning")
            return
        self.post_message(Govern("annotate", data[1]))

    def action_tag(self) -> None:
        """t on a column: its sensitivity tag, with a reason."""
        data = self.selected()
        if not data or data[0] != "column":
            self.app.notify("pick a column to tag: expand a dataset with space and select one of its columns",
                            severity="warning")
            return
        self.post_message(Govern("tag", data[1], data[2]))

    def action_compact(self) -> None:
        self._maintain("compact")

    def action_resync(self) -> None:
        self._maintain("resync")

    def _maintain(self, what: str) -> None:
        data = self.selected()
        if not data or data[0] not in ("dataset", "column"):
            self.app.notify(f"select a dataset in Explore to {what} it", severity="warning")
            return
        self.post_message(Govern(what, data[1]))

    def action_policy(self) -> None:
        if self.lh is not None:
            self.show_policy()

    @work(thread=True, exclusive=True, group="explore-policy")
    def show_policy(self) -> None:
        """The policies binding this profile and what each does, in the detail box."""
        from core.errors import LakehouseError

        try:
            text = _policy_text(self.lh.policy())
        except LakehouseError as e:
            text = literal(said(e), "red")
        self.app.call_from_thread(self._show_policy, text)

    def _show_policy(self, text: Content) -> None:
        self._wanted = None  # a detail still on its way does not replace it
        self.query_one("#explore-info", Static).update(text)
        self._show_sample(None)

    def action_versions(self) -> None:
        """v on a dataset (or one of its columns): its versions, to preview and restore one."""
        data = self.selected()
        if not data or data[0] not in ("dataset", "column"):
            self.app.notify("select a dataset to see its versions", severity="warning")
            return
        self.post_message(OpenVersions(data[1]))

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


def _policy_text(p: dict) -> Content:
    """`lakehouse policy` in words: the policies binding the profile, and their effect per dataset."""
    if not p["policies"]:
        return literal(f"no policy binds profile {p['profile']}: it reads every column and row of its datasets")
    lines = [line(("policies: ", "bold"), f"profile {p['profile']} is bound by "
                  f"{', '.join(x['name'] for x in p['policies'])}")]
    lines += [line((d["dataset"], "bold"), f": {d['summary']}") for d in p["datasets"]]
    if not p["datasets"]:
        lines.append(literal("they shape none of the datasets it sees"))
    return Content("\n").join(lines)


def _dataset_text(desc, versions) -> Content:
    """The detail of a dataset: its description, owner, tags, column names, source file
    names, actors and reasons are quoted as literal text, never markup."""
    d = desc.dataset
    lines = [line((d.name, "bold"), f"  {count(d.row_count, 'row')} · {count(len(d.columns), 'column')} · "
                  f"version {d.table_version}" + (" · pinned" if d.pinned else ""))]
    if d.description:
        lines.append(literal(d.description + (" (drafted)" if desc.description_drafted else "")))
    meta = [f"owner {d.owner}" if d.owner else "", f"tags {', '.join(d.tags)}" if d.tags else "",
            f"key {', '.join(d.primary_key)}" if d.primary_key else ""]
    if any(meta):
        lines.append(literal(" · ".join(m for m in meta if m)))
    if desc.policy:  # what this profile's policies do to it, in words (never colour alone)
        lines.append(line(("policy: ", "bold"), desc.policy))
    tags = {t.column: t.tag for t in desc.column_tags if t.tag}
    lines.append(line("columns: ", *(piece for n, c in enumerate(d.columns)
                                     for piece in (", " if n else "", c.name, " ", (c.type, "dim"),
                                                   (f" {tags[c.name]}", "bold") if c.name in tags else "",
                                                   (f" masked:{desc.masked[c.name]}", "italic")
                                                   if c.name in desc.masked else ""))))
    for lin in desc.lineage[-3:]:
        lines.append(literal(f"lineage: {lin.source_uri} → v{lin.table_version} ({count(lin.rows, 'row')}, {lin.mode})"))
    for v in versions:
        lines.append(literal(f"v{v['version']} {v['timestamp'][:19].replace('T', ' ')} {v['operation']} "
                             f"{count(v['rows'], 'row')} {v['actor']} {v['reason']}"))
    return Content("\n").join(lines)

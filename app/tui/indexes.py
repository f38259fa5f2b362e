"""An index's generations (`lh.index(name)`) as a table with their figures, and the keys
that act on them: promote, roll back, drop (asked first), verify, rebuild (a job with
progress), auto-refresh on or off, and refresh (a job with progress). Reached with `g`
from Explore (on an index) and Trials, and from the palette through a picker.

Every call goes through the facade in a thread worker, so the screen works in-process
and with `tui --connect`; each outcome, refusal included, is one sentence in the status
line under the table. Names and sentences are literal text (panes.base), never markup.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static

from panes.base import FilterPicker, label, line, literal, said
from panes.keys import bindings
from panes.messages import DatasetsChanged

# the table's columns: (header, what it shows)
COLUMNS = ("gen", "state", "rows", "vectors", "model", "dims", "kind", "M", "ef_c", "ef_s", "chunk/overlap",
           "recall", "size", "dataset v", "created")


def size(n: int | None) -> str:
    from app.output import human_bytes

    return human_bytes(n) if n else "-"


def when(ts: str | None) -> str:
    """A catalog timestamp as the table shows it: date and minute."""
    return (ts or "")[:16].replace("T", " ") or "-"


def recall_of(g, trials: list) -> float | None:
    """The recall a trial measured for generation `g`'s own settings: the newest trial that
    was promoted as it, or that measured its graph (M, ef_construction) on its vectors, at
    its ef_search."""
    for t in reversed(trials):
        if t.status != "ok":
            continue
        own = t.promoted_generation == g.gen or (t.promoted_generation is None and t.generation == g.gen
                                                 and (t.m, t.ef_construction) == (g.m, g.ef_construction))
        point = next((p for p in t.points or [] if p.get("ef_search") == g.ef_search), None) if own else None
        if point and point.get("recall") is not None:
            return point["recall"]
    return None


def state(g) -> str:
    """A word, not a colour: active, ready or building."""
    return "● active" if g.active else g.status


def row(g, trials: list) -> list:
    model = g.model if g.provider != "hashing" else "hashing (built-in)"
    recall = recall_of(g, trials)
    cells = [f"g{g.gen}", state(g), f"{g.rows:,}", f"{g.chunks:,}", model, str(g.dim), g.kind,
             *((str(g.m), str(g.ef_construction)) if g.kind == "hnsw" else ("-", "-")), str(g.ef_search),
             f"{g.chunk_size}/{g.overlap}", "-" if recall is None else f"{recall:.3f}", size(g.bytes),
             f"v{g.dataset_version}", when(g.created_at)]
    return [label((c, "bold")) if g.active else label(c) for c in cells]


def heading(info) -> Content:
    """The index in one line: what it indexes, its key, the active generation, auto-refresh
    and whether the dataset changed since (words, not colours)."""
    active = f"g{info.active_gen} active" if info.active_gen is not None else "no active generation"
    fresh = "" if info.dataset_version is None else (" · stale: the dataset changed since" if info.stale
                                                    else " · up to date")
    return line((info.name, "bold"), f" over {info.dataset}.{info.column} (key {', '.join(info.key)}) · {active} · "
                 f"auto-refresh {'on' if info.auto_refresh else 'off'}{fresh}")


class IndexPicker(FilterPicker):
    """The palette's way in: pick an index, then its generations open."""

    heading = "Index generations — type to filter, enter opens one"

    def __init__(self, indexes: list) -> None:
        self.indexes = indexes
        super().__init__()

    def choices(self, text: str) -> list[tuple[str, object]]:
        t = text.lower()
        return [(f"{i.name}  —  {i.dataset}.{i.column}, "
                 + (f"g{i.active_gen} active" if i.active_gen is not None else "no active generation"), i.name)
                for i in self.indexes if t in i.name.lower() or t in i.dataset.lower()]


class IndexScreen(ModalScreen):
    """One index's generations. Keys act on the highlighted one; escape cancels a running
    rebuild or refresh, or closes."""

    AUTO_FOCUS = "#index-gens"
    BINDINGS = bindings("index")
    DEFAULT_CSS = """
    IndexScreen { align: center middle; }
    #index { width: 100%; max-width: 180; height: 100%; max-height: 48; border: thick $primary;
             background: $surface; padding: 0 1; }
    #index-head { height: auto; }
    #index-gens { height: 1fr; min-height: 4; }
    #index-progress { height: 1; }
    #index-progress.-hidden { display: none; }
    #index-log { height: auto; max-height: 8; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.index_name = name
        self.info = None
        self.gens: list = []  # the generations in table order
        self._job = None  # a rebuild or refresh worker while it runs
        self._user_cancel = False

    def compose(self) -> ComposeResult:
        with Vertical(id="index"):
            yield Static(line(("Index ", "bold"), (self.index_name, "bold"), " — reading…"), id="index-head")
            yield DataTable(id="index-gens", cursor_type="row", zebra_stripes=True)
            yield ProgressBar(id="index-progress", show_eta=False, classes="-hidden")
            yield Static(literal("p promote · b roll back · d drop · v verify · r rebuild · a auto-refresh · "
                                 "f refresh · escape closes"), id="index-log")

    def on_mount(self) -> None:
        table = self.query_one("#index-gens", DataTable)
        for header in COLUMNS:
            table.add_column(header, key=header)
        self.reload()

    # -- loading -----------------------------------------------------------------------------
    def reload(self) -> None:
        if self.app.lh is None:
            self.say(literal("the storage root is still opening — try again in a moment"))
            return
        self.gather()

    @work(thread=True, exclusive=True, group="index-gather")
    def gather(self) -> None:
        from core.errors import LakehouseError

        lh = self.app.lh
        try:
            info = lh.index(self.index_name)
        except LakehouseError as e:
            if not self.app.quitting:
                self.app.call_from_thread(self._gone, said(e))
            return
        try:
            trials = lh.trials(self.index_name)
        except LakehouseError:  # the figures still show; only the recall column is blank
            trials = []
        if not self.app.quitting:
            self.app.call_from_thread(self._show, info, trials)

    def _gone(self, sentence: str) -> None:
        self.info, self.gens = None, []
        self.query_one("#index-gens", DataTable).clear()
        self.query_one("#index-head", Static).update(line(("Index ", "bold"), (self.index_name, "bold")))
        self.say(line(("cannot show it: ", "bold"), sentence))

    def _show(self, info, trials: list) -> None:
        self.info = info
        self.gens = sorted(info.generations, key=lambda g: g.gen, reverse=True)  # newest first
        table = self.query_one("#index-gens", DataTable)
        keep = table.cursor_row
        table.clear()
        for g in self.gens:
            table.add_row(*row(g, trials), key=str(g.gen))
        if self.gens:
            table.move_cursor(row=min(max(keep, 0), len(self.gens) - 1))
        self.query_one("#index-head", Static).update(heading(info))
        if not self.gens:
            self.say(literal("no generations — embed its column (Explore, e) to make one"))

    def say(self, text: Content) -> None:
        self.query_one("#index-log", Static).update(text)

    def highlighted(self):
        """The generation under the cursor, or None (said)."""
        row_ = self.query_one("#index-gens", DataTable).cursor_row
        if self.gens and 0 <= row_ < len(self.gens):
            return self.gens[row_]
        self.say(literal("no generation is highlighted"))
        return None

    # -- quick operations: a worker, then one sentence and the table again -----------------------
    def _ready(self) -> bool:
        if self.app.lh is None or self.info is None:
            return False
        if self._job is not None:
            self.say(literal("a rebuild or refresh is running — wait for it, or escape to cancel it"))
            return False
        return True

    @work(thread=True, group="index-op")
    def op(self, doing: str, fn, *args, describe=None) -> None:
        """Call `fn(*args)` and say how it went (`describe(result)`), then reload."""
        from core.errors import LakehouseError

        self.app.call_from_thread(self.say, literal(f"{doing}…"))
        try:
            out = fn(*args)
        except LakehouseError as e:
            if not self.app.quitting:
                self.app.call_from_thread(self.say, line(("refused: ", "bold"), said(e)))
            return
        if self.app.quitting:
            return
        self.app.call_from_thread(self.say, describe(out) if describe else literal(str(out)))
        self.app.call_from_thread(self.reload)
        self.app.post_message(DatasetsChanged())  # Explore's tree shows the active generation

    def action_promote(self) -> None:
        g = self.highlighted() if self._ready() else None
        if g is None:
            return
        if g.active:
            self.say(literal(f"g{g.gen} is already the active generation"))
            return
        self.op(f"promoting g{g.gen}", self.app.lh.promote, self.index_name, g.gen,
                describe=lambda info: line(("promoted: ", "bold"), f"g{info.active_gen} is the active generation"))

    def action_rollback(self) -> None:
        if self._ready():
            self.op("rolling back", self.app.lh.rollback, self.index_name, describe=lambda info: line(
                ("rolled back: ", "bold"), f"g{info.active_gen} is the active generation again"))

    def action_drop(self) -> None:
        from panes.trials import Confirm

        g = self.highlighted() if self._ready() else None
        if g is None:
            return
        if g.active:  # the core refuses it too; said here before asking
            self.say(line(("refused: ", "bold"), f"g{g.gen} is the active generation of {self.index_name} — "
                          "promote another first (or roll back), then drop it"))
            return
        question = (f"Drop {self.index_name} g{g.gen} ({g.chunks:,} vectors)? Its files are deleted; "
                    "it cannot be undone.")
        self.app.push_screen(Confirm(question), lambda yes: yes and self.op(
            f"dropping g{g.gen}", self.app.lh.drop_index, self.index_name, g.gen,
            describe=lambda said_: line(("dropped: ", "bold"), said_)))

    def action_verify(self) -> None:
        g = self.highlighted() if self._ready() else None
        if g is None:
            return
        if g.status != "ready":
            self.say(literal(f"g{g.gen} is {g.status}: it has no files to check yet"))
            return

        def outcome(problems: list[str]) -> Content:
            if not problems:
                return line(("verified: ", "bold"), f"g{g.gen}'s files match their checksums")
            return line(("damaged: ", "bold red"), "; ".join(problems),
                        f" — rebuild it (r){' or drop it (d)' if not g.active else ''}")
        self.op(f"verifying g{g.gen}", self.app.lh.verify_index, self.index_name, g.gen, describe=outcome)

    def action_auto_refresh(self) -> None:
        if not self._ready():
            return
        on = not self.info.auto_refresh
        self.op(f"turning auto-refresh {'on' if on else 'off'}", self.app.lh.set_auto_refresh, self.index_name, on,
                describe=lambda _: line(("auto-refresh: ", "bold"), f"{'on' if on else 'off'} — " + (
                    "a change to the dataset re-embeds into a new live generation" if on else
                    "a change to the dataset leaves the index as it is until you refresh it (f)")))

    # -- jobs: rebuild and refresh, with progress; escape cancels --------------------------------
    def action_rebuild(self) -> None:
        g = self.highlighted() if self._ready() else None
        if g is None:
            return
        if g.status != "ready":
            self.say(literal(f"g{g.gen} is {g.status}: only a finished generation can be rebuilt"))
            return
        self._start(f"rebuilding g{g.gen}", self.app.lh.rebuild_index, (self.index_name, g.gen), {},
                    lambda gen: line(("rebuilt: ", "bold"), f"g{gen.gen}'s vectors and graph were made again "
                                                            "from its stored embeddings"))

    def action_refresh(self) -> None:
        if self._ready():
            self._start("refreshing", self.app.lh.refresh, (), {"index": self.index_name}, lambda outcomes: Content(
                "\n").join(line((f"{o.status}: ", "bold"), o.message) for o in outcomes) or literal("nothing to do"))

    def _start(self, doing: str, fn, args: tuple, kwargs: dict, describe) -> None:
        self._user_cancel = False
        bar = self.query_one("#index-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.remove_class("-hidden")
        self.say(literal(f"{doing}… (escape cancels)"))
        self._job = self.job(doing, fn, args, kwargs, describe)

    @work(thread=True, group="index-job")
    def job(self, doing: str, fn, args: tuple, kwargs: dict, describe) -> None:
        from core.errors import Cancelled, LakehouseError

        def progress(ev) -> None:
            self.app.call_from_thread(self._progress, doing, ev)
        try:
            out = self.app.run_job(fn, *args, progress=progress, **kwargs)
        except Cancelled:
            text = literal(f"cancelled — {doing} stopped; the generations are as they were")
        except LakehouseError as e:
            text = line(("refused: " if getattr(e, "refused", False) else "failed: ", "bold red"), said(e))
        else:
            text = describe(out)
        if not (self.app.quitting and not self._user_cancel):
            self.app.call_from_thread(self._done, text)

    def _progress(self, doing: str, ev) -> None:
        if self._job is None:
            return
        self.query_one("#index-progress", ProgressBar).update(total=ev.total, progress=ev.done)
        done = f"{int(ev.done):,}/{int(ev.total):,} {ev.unit}" if ev.total else ""
        self.say(literal(f"{doing}: {done} {ev.message} (escape cancels)".replace(":  ", ": ")))

    def _done(self, text: Content) -> None:
        self._job = None
        self.query_one("#index-progress", ProgressBar).add_class("-hidden")
        self.say(text)
        self.reload()
        self.app.post_message(DatasetsChanged())

    def action_close(self) -> None:
        if self._job is not None:
            self._user_cancel = True
            self.say(literal("cancelling…"))
            self._job.cancel()
            return
        self.dismiss(None)


def pick_index(app) -> None:
    """The palette's "Index generations": a picker of the profile's indexes, then the
    chosen one's generations."""
    if app.lh is None:
        app.notify("the storage root is still opening — try again in a moment", severity="warning")
        return

    def listed() -> None:
        from core.errors import LakehouseError

        try:
            indexes = app.lh.indexes()
        except LakehouseError as e:
            app.call_from_thread(app.notify, said(e), severity="error", timeout=10)
            return
        if not indexes:
            app.call_from_thread(app.notify, "no indexes yet — embed a text column (Explore, e) to make one",
                                 severity="warning")
            return
        app.call_from_thread(app.push_screen, IndexPicker(indexes),
                             lambda name: name and app.push_screen(IndexScreen(name)))
    app.run_worker(listed, thread=True, exclusive=True, group="index-pick")

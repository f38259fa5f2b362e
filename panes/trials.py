"""The Trials pane: an index's measured HNSW configurations as a sortable table (one row
per trial point), a recall-against-p50 scatter with the Pareto front and the active
generation marked (textual-plotext), live progress of its running trial or autotune (the
jobs list, polled), and keys to run a trial, start and stop autotune, promote, roll back
and compare the two newest generations. Everything goes through the facade."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import DataTable, Select, Static
from textual_plotext import PlotextPlot

from core.trials.front import pareto_front

from .base import Pane, TextInput, label, line, literal, said
from .keys import bindings, key_of
from .messages import DatasetsChanged, OpenIndex

POLL_S = 1.0
EF_SEARCH = [30, 50, 64, 100]  # the CLI's default beams, plus the profile's own
# (header, the point's key): the table's columns, each sortable
COLUMNS = [("trial", "trial"), ("by", "origin"), ("M", "m"), ("ef_c", "ef_construction"), ("ef_s", "ef_search"),
           ("recall", "recall"), ("p50 µs", "p50_us"), ("p95 µs", "p95_us"), ("p99 µs", "p99_us"),
           ("build s", "build_s"), ("bytes", "index_bytes"), ("status", "status"), ("promoted", "promoted")]


class Confirm(ModalScreen):
    """A yes/no question; dismissed with the answer."""

    BINDINGS = bindings("confirm")
    AUTO_FOCUS = ""
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Static { width: 70; border: round $primary; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(line(self.question, ("\n\ny", "bold"), " yes · ", ("n", "bold"), " no"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def points(trials: list, active=None) -> list[dict]:
    """One row per trial point (a failed or cancelled trial: one row without figures);
    `active`: the index's active Generation, whose point is marked."""
    rows = []
    for t in trials:
        base = dict(trial=t.id, m=t.m, ef_construction=t.ef_construction, build_s=t.build_s,
                    index_bytes=t.index_bytes, eval_set=t.eval_set, origin=t.origin,
                    status=t.status + (" · no graph" if t.graph_removed else ""),
                    promoted=f"g{t.promoted_generation}" if t.promoted_generation is not None else "")
        for p in t.points or [{}]:
            row = dict(base, ef_search=p.get("ef_search"), recall=p.get("recall"), p50_us=p.get("p50_us"),
                       p95_us=p.get("p95_us"), p99_us=p.get("p99_us"))
            row["active"] = _is_active(t, p.get("ef_search"), active)
            rows.append(row)
    return rows


def _is_active(t, ef_search, active) -> bool:
    """The point is the active generation: the trial was promoted as it, or (a generation
    built by embed) the trial measured its settings on its vectors."""
    if active is None or ef_search != active.ef_search:
        return False
    if t.promoted_generation is not None:
        return t.promoted_generation == active.gen
    return t.generation == active.gen and (t.m, t.ef_construction) == (active.m, active.ef_construction)


def ordered(rows: list[dict], key: str | None, reverse: bool = False) -> list[dict]:
    """Rows by one column (None: as they are), rows without that figure last either way."""
    if key is None:
        return list(reversed(rows)) if reverse else rows
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=reverse) + missing


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "recall":
        return f"{value:.4f}"
    if key in ("p50_us", "p95_us", "p99_us"):
        return f"{value:,.0f}"
    if key == "build_s":
        return f"{value:.2f}"
    if key == "index_bytes":
        for unit in ("B", "KB", "MB"):
            if value < 1000:
                return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
            value /= 1000
        return f"{value:.1f} GB"
    return str(value)


class TrialsPane(Pane):
    BINDINGS = bindings("trials")
    DEFAULT_CSS = """
    TrialsPane #trials-bar { height: 3; }
    TrialsPane #trials-bar Select { width: 28; }
    TrialsPane #trials-budget { width: 14; }
    TrialsPane #trials-compare-text { width: 1fr; }
    TrialsPane #trials-status { height: auto; padding: 0 1; }
    TrialsPane #trials-table { height: 1fr; }
    TrialsPane #trials-plot { height: 1fr; min-height: 10; }
    """
    index: str | None = None
    eval_set: str | None = None  # None: every eval set
    sort_key: str | None = None  # None: as the trials ran, oldest first
    sort_reverse = False

    def main_widget(self):
        return self.query_one("#trials-table", DataTable)

    def compose(self) -> ComposeResult:
        with Horizontal(id="trials-bar"):
            yield Select([], prompt="index", allow_blank=True, id="trials-index")
            yield Select([], prompt="every eval set", allow_blank=True, id="trials-eval")
            yield TextInput("10m", placeholder="budget", id="trials-budget", tooltip="autotune budget, e.g. 2m or 90s")
            yield TextInput(placeholder=f"text to compare the two newest generations with "
                                        f"({key_of('trials', 'compare')})", id="trials-compare-text")
        yield Static("opening…", id="trials-status")
        yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
        yield PlotextPlot(id="trials-plot")
        self.rows: list[dict] = []
        self.running: list = []  # the index's running trial/autotune jobs, as last polled

    def on_mount(self) -> None:
        table = self.query_one("#trials-table", DataTable)
        for header, key in COLUMNS:
            table.add_column(header, key=key)

    # -- loading ------------------------------------------------------------------------
    def rescope(self) -> None:
        self.load_indexes()
        if not hasattr(self, "_timer"):
            self._timer = self.set_interval(POLL_S, self.poll)

    @work(thread=True, exclusive=True, group="trials-indexes")
    def load_indexes(self) -> None:
        from core.errors import LakehouseError

        try:
            names = [i.name for i in self.lh.indexes()]
        except LakehouseError as e:
            self.app.call_from_thread(self._say, literal(said(e), "red"))
            return
        self.app.call_from_thread(self._show_indexes, names)

    def _show_indexes(self, names: list[str]) -> None:
        select = self.query_one("#trials-index", Select)
        select.set_options([(label(n), n) for n in names])
        if not names:
            self.index = None
            self._say("no indexes yet — embed a text column (Explore, e) to make one")
            return
        select.value = self.index if self.index in names else names[0]

    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        if event.select.id == "trials-index":
            self.index, self.eval_set = value, None
            self.reload()
        elif event.select.id == "trials-eval":
            self.eval_set = value
            self.show()

    def reload(self) -> None:
        if self.lh is not None and self.index:
            self.gather(self.index)

    @work(thread=True, exclusive=True, group="trials-gather")
    def gather(self, index: str) -> None:
        from core.errors import LakehouseError

        try:
            info = self.lh.index(index)
            trials = self.lh.trials(index)
            evals = [e["name"] for e in self.lh.evals(index)]
        except LakehouseError as e:
            self.app.call_from_thread(self._say, literal(said(e), "red"))
            return
        self.app.call_from_thread(self._loaded, index, info, points(trials, info.active), evals)

    def _loaded(self, index: str, info, rows: list[dict], evals: list[str]) -> None:
        if index != self.index:
            return
        self.info, self.rows = info, rows
        select = self.query_one("#trials-eval", Select)
        with select.prevent(Select.Changed):
            select.set_options([(label(n), n) for n in evals])
            if self.eval_set in evals:
                select.value = self.eval_set
        self.show()

    # -- showing ------------------------------------------------------------------------
    def shown_rows(self) -> list[dict]:
        rows = [r for r in self.rows if self.eval_set is None or r["eval_set"] == self.eval_set]
        return ordered(rows, self.sort_key, self.sort_reverse)

    def show(self) -> None:
        rows = self.shown_rows()
        table = self.query_one("#trials-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for r in rows:
            cells = [_cell(key, r[key]) for _, key in COLUMNS]
            cells[0] = label((("● " if r["active"] else "  ") + cells[0], "bold" if r["active"] else ""))
            table.add_row(*[c if not isinstance(c, str) else label(c) for c in cells])
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        self.plot(rows)
        self._say(self._summary(rows))

    def _summary(self, rows: list[dict]):
        info = getattr(self, "info", None)
        active = "no active generation" if info is None or info.active_gen is None else f"active g{info.active_gen}"
        by = next((h for h, k in COLUMNS if k == self.sort_key), "when they ran")
        by += " ↓" if self.sort_reverse else " ↑"
        text = line((self.index or "", "bold"), f" · {active} · {len(rows)} points · sorted by {by}")
        for job in self.running:
            done = f" {job.done / job.total:.0%}" if job.total else ""
            text = line(text, "\n", (f"{job.kind} running{done}: ", "bold yellow"), job.message[:100])
        return text

    def plot(self, rows: list[dict]) -> None:
        widget = self.query_one("#trials-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("recall against p50 µs")
        plt.xlabel("p50 µs")
        measured = [r for r in rows if r["recall"] is not None and r["p50_us"] is not None]
        if measured:
            front = pareto_front(measured)  # the line first: the points are drawn over it
            plt.plot([r["p50_us"] for r in front], [r["recall"] for r in front], label="Pareto front", marker="braille")
            plt.scatter([r["p50_us"] for r in measured], [r["recall"] for r in measured], label="trials", marker="dot")
            active = [r for r in measured if r["active"]]
            if active:
                plt.scatter([r["p50_us"] for r in active], [r["recall"] for r in active], label="active", marker="x",
                            color="red")
        widget.refresh()

    def _say(self, text) -> None:
        self.query_one("#trials-status", Static).update(text)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = COLUMNS[event.column_index][1]
        self.sort_reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key = key
        self.show()

    def action_sort(self) -> None:
        keys = [k for _, k in COLUMNS]
        at = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key, self.sort_reverse = keys[(at + 1) % len(keys)], False
        self.show()

    # -- progress -----------------------------------------------------------------------
    def poll(self) -> None:
        if self.lh is not None and self.index and self.is_attached and self.is_on_screen:  # hidden: no polling
            self.poll_jobs(self.index)

    @work(thread=True, exclusive=True, group="trials-poll")
    def poll_jobs(self, index: str) -> None:
        running = self._running_jobs(index, ("trial", "autotune"))
        if running is not None:
            self.app.call_from_thread(self._polled, index, running)

    def _running_jobs(self, index: str, kinds: tuple) -> list | None:
        """The index's running jobs of these kinds (None: the jobs could not be read, said)."""
        jobs = self._call(self.lh.jobs, 20, reload=False)
        return None if jobs is None else [j for j in jobs if j.kind in kinds and j.target == index
                                          and j.status == "running"]

    def _polled(self, index: str, running: list) -> None:
        if index != self.index:
            return
        ended = len(running) < len(self.running)  # a job finished: its trials are rows now
        if running or self.running:
            self.running = running
            self._say(self._summary(self.shown_rows()))
        if ended:
            self.reload()

    # -- actions: every one a facade call in a thread worker ---------------------------
    def _call(self, fn, *args, reload: bool = True, **kwargs):
        """A facade call from a thread worker: its result, or None when it failed and its
        error was said in a notification; then the table reloads (unless `reload` is False)."""
        from core.errors import LakehouseError

        try:
            out = fn(*args, **kwargs)
        except LakehouseError as e:
            out = None
            if not self.app.quitting:  # cancelled by quitting: recorded as such, nothing to show
                self.app.call_from_thread(self.app.notify, said(e), severity="error", timeout=10)
        if reload:
            self.app.call_from_thread(self.reload)
        return out

    def _notify(self, text: str) -> None:
        self.app.call_from_thread(self.app.notify, text, timeout=8)

    def action_run_trial(self) -> None:
        if self.lh is not None and self.index:
            self.run_trial(self.index)

    @work(thread=True, group="trials-run")
    def run_trial(self, index: str) -> None:
        lh = self.lh
        hnsw = {k: lh.profile.hnsw.get(k) or lh.config.get(f"vectors.hnsw_{k}")
                for k in ("m", "ef_construction", "ef_search")}
        if not any(e["refused"] is None for e in self._call(lh.evals, index, reload=False) or []):
            if self._call(lh.eval_create, index) is None:
                return
        efs = sorted(set(EF_SEARCH) | {hnsw["ef_search"]})
        self._notify(f"trial of {index}: M {hnsw['m']}, ef_construction {hnsw['ef_construction']}, "
                     f"ef_search {','.join(map(str, efs))}…")
        t = self._call(self.app.run_job, lh.trial, index, hnsw["m"], hnsw["ef_construction"], efs)
        if t is not None:
            self._notify(f"trial {t.id} {t.status}")

    def action_autotune(self) -> None:
        if self.lh is not None and self.index:
            self.autotune(self.index, self.query_one("#trials-budget", TextInput).value.strip() or "10m")

    @work(thread=True, group="trials-autotune")
    def autotune(self, index: str, budget: str) -> None:
        lh = self.lh
        min_recall = lh.profile.autotune_min_recall or lh.config.get("trials.min_recall")
        objective = lh.profile.autotune_objective or lh.config.get("trials.objective")
        self._notify(f"autotune of {index} for {budget} (minimum recall {min_recall}, objective {objective})…")
        out = self._call(self.app.run_job, lh.autotune, index, budget, min_recall, objective)
        if out is not None:
            self._notify(f"autotune of {index}: {out.get('reason', 'done')}")
            self.post_message(DatasetsChanged())

    def action_stop_autotune(self) -> None:
        if self.lh is not None and self.index:
            self.stop_autotune(self.index)

    @work(thread=True, group="trials-stop")
    def stop_autotune(self, index: str) -> None:
        jobs = self._running_jobs(index, ("autotune",))
        if jobs is None:
            return
        if not jobs:
            self._notify(f"no autotune of {index} is running")
            return
        for j in jobs:
            if self._call(self.lh.cancel_job, j.id, reload=False):
                self._notify(f"asked autotune job {j.id} to stop")

    def highlighted(self) -> dict | None:
        rows = self.shown_rows()
        row = self.query_one("#trials-table", DataTable).cursor_row
        return rows[row] if rows and 0 <= row < len(rows) else None

    def action_promote(self) -> None:
        r = self.highlighted()
        if r is None or self.lh is None:
            return
        if r["status"] != "ok" or r["ef_search"] is None:
            self.app.notify(f"trial {r['trial']} {r['status']}, so it has no graph to promote", severity="error")
            return
        question = (f"Make trial {r['trial']} (M {r['m']}, ef_construction {r['ef_construction']}, ef_search "
                    f"{r['ef_search']}) the active generation of {self.index}?")
        self.app.push_screen(Confirm(question), lambda yes: yes and self.promote(r["trial"], r["ef_search"]))

    @work(thread=True, group="trials-promote")
    def promote(self, trial_id: str, ef_search: int) -> None:
        info = self._call(self.lh.trial_promote, trial_id, ef_search)
        if info is not None:
            self._notify(f"{info.name}: g{info.active_gen} is active (from trial {trial_id})")
            self.post_message(DatasetsChanged())

    def action_generations(self) -> None:
        """g: the selected index's generations (app/tui/indexes.py)."""
        if self.index:
            self.post_message(OpenIndex(self.index))
        else:
            self.app.notify("no index selected — embed a text column (Explore, e) to make one", severity="warning")

    def action_rollback(self) -> None:
        if self.lh is not None and self.index:
            self.rollback(self.index)

    @work(thread=True, group="trials-rollback")
    def rollback(self, index: str) -> None:
        info = self._call(self.lh.rollback, index)
        if info is not None:
            self._notify(f"{index}: g{info.active_gen} is active again")
            self.post_message(DatasetsChanged())

    def action_compare(self) -> None:
        text = self.query_one("#trials-compare-text", TextInput).value.strip()
        if not text:
            self.app.notify("type a text to search with in the compare box first", severity="warning")
        elif self.lh is not None and self.index:
            self.compare(self.index, text)

    @work(thread=True, group="trials-compare")
    def compare(self, index: str, text: str) -> None:
        info = self._call(self.lh.index, index)
        gens = sorted(g.gen for g in info.generations if g.status == "ready") if info is not None else []
        if len(gens) < 2:
            self._notify(f"{index} has {len(gens)} ready generation(s); comparing needs two")
            return
        a, b = gens[-2], gens[-1]
        out = self._call(self.lh.compare, f"{index}@g{a}", f"{index}@g{b}", text)
        if out is not None:
            self._notify(f"{index} g{a} against g{b}: overlap@{out['k']} {out['overlap']:.0%} on {text!r}")

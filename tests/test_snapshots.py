"""Snapshot tests of the workstation (pytest-textual-snapshot): one frame per pane, the
help screen and the profile picker, each over a small fixed dataset at 120x36.

The SVGs live in tests/__snapshots__/test_snapshots/. After an intended change to what
the TUI draws, regenerate them and look at the diff (the failing run also writes
snapshot_report.html with before/after side by side):

    .venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update

Determinism: the storage root and the ingested CSV sit at fixed paths (wiped and rebuilt
for every test), so the paths on screen do not change; the app runs for real (core,
DuckDB, Delta, the Ollama stand-in) and each test waits until every worker is done; then
`stabilise` stops cursor blink (and redraws the editor so its cursor shows whatever phase
the blink was in) and replaces the few values that differ from run to run
(clock times, durations, disk sizes, job/ask ids, the stand-in's random port) with fixed
placeholders in the widgets' text, right before the screenshot.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TextArea
from textual.worker import WorkerState

import panes.system
from app.tui import LakehouseApp
from test_tui import until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIZE = (120, 36)
# A fixed place (not tmp_path): the storage root and the CSV's path are on screen.
# Runs that overlap (two checkouts, xdist workers) take turns through a lock on /tmp.
SNAP_DIR = Path("/tmp/lakehouse-snapshots")

STAFF_CSV = """\
id,name,team,city,salary,started
1,Ada Lovelace,research,London,128000,2021-03-01
2,Grace Hopper,platform,Arlington,134000,2019-07-15
3,Alan Turing,research,Manchester,121000,2022-01-10
4,Katherine Johnson,analytics,Hampton,117000,2020-11-02
5,Edsger Dijkstra,platform,Austin,125000,2018-05-21
6,Barbara Liskov,analytics,Boston,131000,2023-09-04
"""

PROFILES = """\
[profiles.research]
description = "research staff only"
datasets = ["staff"]

[profiles.empty]
description = "nothing bound yet"
datasets = ["nothing_*"]
"""


@pytest.fixture
def snap_home(ollama, monkeypatch) -> Path:
    """A storage root at a fixed path with one dataset, `staff` (6 rows, keyed by id),
    ingested through the real core; OLLAMA_HOST points at the Ollama stand-in (with no
    Ollama, the System pane's model listing retries for ~3.5 s before it gives up)."""
    from core import Lakehouse

    # runs take turns by locking the temp dir itself: a lock file would be left behind
    lock = os.open(SNAP_DIR.parent, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the test is over
    try:
        shutil.rmtree(SNAP_DIR, ignore_errors=True)
        root, data = SNAP_DIR / "home", SNAP_DIR / "data"
        root.mkdir(parents=True)
        data.mkdir()
        monkeypatch.setenv("LAKEHOUSE_HOME", str(root))
        monkeypatch.delenv("NO_COLOR", raising=False)  # Textual would draw without colour
        # The System pane refreshes every 3 s; a refresh between masking and the screenshot
        # would put the live numbers back, so here it refreshes only when a test asks.
        monkeypatch.setattr(panes.system, "REFRESH_S", 3600.0)
        (root / "lakehouse.toml").write_text(PROFILES)
        (data / "staff.csv").write_text(STAFF_CSV)
        with Lakehouse.open(home=root, profile="default") as lh:
            lh.ingest(data / "staff.csv", key="id", actor="snapshots", reason="fixture")
            # the owner defaults to the OS user, which differs between machines: set it
            lh.annotate("staff", description="Engineering staff, one row per person.", owner="ann", tags=["hr"])
            lh.sql("SELECT count(*) AS n FROM staff")  # an entry in the audit log (System)
        yield root
    finally:
        shutil.rmtree(SNAP_DIR, ignore_errors=True)
        os.close(lock)


# -- waiting and masking (test-only) ------------------------------------------------------

async def settle(pilot) -> None:
    """Every worker done (workers that start workers included) and the messages they
    posted handled. (Not workers.wait_for_complete(): it raises when an exclusive
    worker was superseded, which is normal here.)"""
    app = pilot.app

    def busy() -> bool:
        return any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers)

    for _ in range(400):
        await pilot.pause()
        if not busy():
            await pilot.pause()
            if not busy():
                return
        await pilot.pause(0.05)
    raise AssertionError("workers kept running")


# (pattern, replacement): only values that legitimately change between runs or machines.
MASKS = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\b"), "YYYY-MM-DD hh:mm:ss"),  # timestamps
    (re.compile(r"\b\d{2}:\d{2}:\d{2}\b"), "hh:mm:ss"),  # clock times (audit, model expiry)
    (re.compile(r"\b\d[\d,]*(?:\.\d+)? ms\b"), "N ms"),  # query/ingest durations
    (re.compile(r"\b\d+\.\d s\b"), "N s"),  # ask durations
    (re.compile(r"\bask [0-9a-f]{10}\b"), "ask ID"),  # ask ids (uuid)
    (re.compile(r"\b[0-9a-f]{12}\b"), "JOBID"),  # job ids (uuid)
    (re.compile(r"\bdisk \d+ of \d+ GB\b"), "disk N of N GB"),  # the machine's disk
    (re.compile(r"\b\d[\d,]*(?:\.\d+)? (?:MB|GB)\b"), "N MB"),  # file sizes on disk
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),  # the Ollama stand-in's random port
    # the core resolves the root: /tmp is /private/tmp on macOS
    (re.compile(re.escape(str(SNAP_DIR.resolve())) + r"\b"), str(SNAP_DIR)),
]


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def mask_visual(visual):
    """`mask` for what a Static or an option shows: a markup string, or Content (the panes
    show untrusted text as Content, never markup), masked piece by piece so each keeps its style."""
    from textual.content import Content, Span

    if isinstance(visual, str):
        return mask(visual)
    if not isinstance(visual, Content):
        return visual
    cuts = sorted({o for s in visual.spans for o in (s.start, s.end)} | {len(visual.plain)})
    pieces = []
    for piece in visual.divide(cuts):
        masked = mask(piece.plain)
        pieces.append(piece if masked == piece.plain else
                      Content(masked, spans=[Span(0, len(masked), s.style) for s in piece.spans]))
    out = Content("").join(pieces)
    return visual if out.plain == visual.plain else out


async def stabilise(pilot) -> None:
    """Right before the screenshot: no blinking cursors, and run-dependent values
    replaced by placeholders in every Static and OptionList, on every screen of the
    stack (a modal's background is in the frame too)."""
    await settle(pilot)
    for screen in pilot.app.screen_stack:
        for w in screen.query(Input):
            w.cursor_blink = False
        for w in screen.query(TextArea):
            w.cursor_blink = False
            # TextArea caches rendered lines by blink phase, and with blink off a focused
            # cursor's line has the same cache key as a line drawn mid-blink without it:
            # drop the cache so the cursor is drawn (as with blink off) whatever the phase was
            w.notify_style_update()
            w.refresh()
        for w in screen.query(Static):
            if (masked := mask_visual(w.content)) is not w.content and masked != w.content:
                w.update(masked)
        for options in screen.query(OptionList):
            for i in range(options.option_count):
                prompt = options.get_option_at_index(i).prompt
                if (masked := mask_visual(prompt)) is not prompt and masked != prompt:
                    options.replace_option_prompt_at_index(i, masked)
    await pilot.pause()


async def opened(pilot) -> None:
    await until(pilot, lambda: pilot.app.lh is not None)
    await settle(pilot)


def app_on(home) -> LakehouseApp:
    return LakehouseApp(home=home, profile="default")


def log_text(app) -> str:
    return " ".join(str(w.render()) for w in app.query_one("#ask-log").children)


# -- the snapshots ------------------------------------------------------------------------

def test_ask_pane_with_a_streamed_answer(snap_home, ollama, snap_compare):
    """Ask: a question routed to SQL by the (stand-in) model, its streamed answer, the SQL
    and its rows."""
    ollama.chat_replies = [
        json.dumps({"sql": "SELECT team, count(*) AS n FROM staff GROUP BY team ORDER BY team",
                    "reason": "a count per team"}),
        "Each of the three teams (analytics, platform and research) has 2 people.",
    ]

    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        app.query_one("#ask-input").value = "how many people are in each team?"
        await pilot.press("enter")
        await until(pilot, lambda: "Each of the three teams" in log_text(app) and "ctrl+r opens it" in log_text(app))
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_explore_pane_with_a_dataset_selected(snap_home, snap_compare):
    """Explore: the catalog tree with `staff` expanded to its columns, and its detail:
    schema, key, lineage, versions and a sample."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        await pilot.press("f2")
        tree = app.query_one("#explore-tree")
        await until(pilot, lambda: bool(tree.root.children) and "datasets (1)" in str(tree.root.children[0].label))
        tree.move_cursor(tree.root.children[0].children[0])  # staff
        await pilot.press("space")  # expand: its columns load
        await until(pilot, lambda: "columns:" in str(app.query_one("#explore-info").render()))
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_sql_pane_with_a_query_result(snap_home, snap_compare):
    """SQL: an aggregate query run with ctrl+j, its result table and row count."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        await pilot.press("f3")
        editor = app.query_one("#sql-editor")
        editor.text = ("SELECT team, count(*) AS people, min(salary) AS lowest, max(salary) AS highest\n"
                       "FROM staff GROUP BY team ORDER BY team;\n")
        editor.move_cursor((0, 0))
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "rows in" in str(app.query_one("#sql-message").render()))
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_system_pane_with_health(snap_home, snap_compare):
    """System: storage root and disk use, Ollama (the stand-in) reachable, jobs, errors,
    the audit log."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        await pilot.press("f6")  # from Ask, where the app opens
        await until(pilot, lambda: "reachable" in str(app.query_one("#system-health").render()))
        assert app.query_one("TabbedContent").active == "system"
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_home, snap_compare):
    """? (from a pane without a text box in focus) shows every key."""
    async def run_before(pilot) -> None:
        await opened(pilot)
        await pilot.press("f2", "question_mark")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "HelpScreen")
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_profile_picker(snap_home, snap_compare):
    """ctrl+o lists the profiles from lakehouse.toml, the active one marked."""
    async def run_before(pilot) -> None:
        await opened(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "ProfilePicker")
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def _trial_rows(trial_id: str, m: int, efc: int, points: list[tuple], status: str = "ok") -> list[dict]:
    """A trial's `_trials` rows with fixed figures (measured ones differ from run to run)."""
    base = dict(trial_id=trial_id, index_name="staff_names", generation=1, eval_set="e1", k=5, m=m,
                ef_construction=efc, build_s=0.01 * m, index_bytes=1000 * m, peak_mem_bytes=4096,
                dataset_version=0, embedder="hashing", model="hashing-v1", machine="snapshot", profile="default",
                status=status, created_at=f"2026-01-0{len(trial_id)}T00:00:00")
    if not points:
        return [dict(base, error="the build was cancelled")]
    return [dict(base, ef_search=ef, recall=r, p50_us=p50, p95_us=p50 * 1.5, p99_us=p50 * 2) for ef, r, p50 in points]


def test_trials_pane_with_trials(snap_home, snap_compare):
    """Trials: an index's trials (fixed rows), sorted by recall, beside the recall-against-p50
    scatter with the Pareto front and the active generation's point marked."""
    from core import Lakehouse

    with Lakehouse.open(home=snap_home, profile="default") as lh:
        lh.embed("staff", "name", index="staff_names", embedder="hashing")
        add = lh.catalog.trials.add_points
        add(_trial_rows("t1", 16, 80, [(30, 0.9, 40.0), (64, 1.0, 70.0), (100, 1.0, 90.0)]))
        add(_trial_rows("t22", 8, 40, [(30, 0.8, 30.0), (64, 0.95, 50.0)]))
        add(_trial_rows("t333", 4, 20, [], status="cancelled"))

    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        await pilot.press("f4")
        pane = app.pane("trials")
        await until(pilot, lambda: len(pane.rows) == 6)
        for _ in range(6):  # trial, by, M, ef_c, ef_s: then recall
            await pilot.press("o")
        assert pane.sort_key == "recall"
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)


def test_memory_pane_with_memories(snap_home, snap_compare, monkeypatch):
    """Memory: an index's memories of every status (one revised, one retired), the
    highlighted one's endorsement and version chain below. They are made at a fixed time
    (created_at is on screen, in the table, which is not masked)."""
    import core.memory.rows
    import core.memory.service
    from core import Lakehouse

    with Lakehouse.open(home=snap_home, profile="default") as lh:
        lh.embed("staff", "name", index="staff_names", embedder="hashing")
        with monkeypatch.context() as m:
            for module in (core.memory.rows, core.memory.service):
                m.setattr(module, "now", lambda: "2026-01-05T09:00:00")
            first = lh.memory_add("staff_names", "staffed the compiler rewrite", ["2", "5"],
                                  approach="platform engineers who shipped compilers", actor="ann")
            lh.memory_add("staff_names", "research lead for the proofs project", ["1", "3"],
                          approach="mathematicians first", scope={"team": "research"}, actor="ann")
            gone = lh.memory_add("staff_names", "analytics audit", ["4"], actor="bo")
            lh.memory_retire(gone.id, reason="the audit was cancelled", actor="bo")
            lh.memory_revise(first.id, approach="platform engineers with compiler or OS work",
                             reason="wider pool", actor="ann")

    async def run_before(pilot) -> None:
        app = pilot.app
        await opened(pilot)
        await pilot.press("f5")
        pane = app.pane("memory")
        await until(pilot, lambda: len(pane.entries) == 2)
        pane.query_one("#memory-status-filter").value = "all"
        await until(pilot, lambda: len(pane.entries) == 4)
        # newest first: the revised memory's new version is highlighted, its chain below
        await until(pilot, lambda: "→" in str(pane.query_one("#memory-detail").render()))
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=SIZE, run_before=run_before)

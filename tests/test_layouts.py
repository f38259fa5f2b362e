"""Layouts that hold: every pane and every screen of the workstation at 80x24 and 200x60, in
the dark and the light theme. On each, every widget the keyboard reaches (tab, in focus
order) is on screen once it has the focus, wide and tall enough to use, and inside the
terminal; the screen's own box fits the terminal. A screen opened and closed at once (a
user's quick escape) leaves no error behind."""

from __future__ import annotations

import pytest

from conftest import write
from test_tui import run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIZES = [(80, 24), (200, 60)]
THEMES = ["lakehouse-dark", "lakehouse-light"]
PEOPLE = "person_id,name,state,profile\n" + "".join(
    f"{i},Person {i},{'CA' if i % 2 else 'TX'},kubernetes and terraform engineer number {i}\n" for i in range(1, 41))


@pytest.fixture
def root(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[profiles.analyst]\ndatasets = [\"people\"]\nindexes = [\"people\"]\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write(data / "people.csv", PEOPLE), key="person_id")
        lh.update("people", "1", {"state": "NY"}, reason="moved")
        lh.embed("people", "profile", index="people", embedder="hashing")
    return home


def screens(app) -> list[tuple[str, object]]:
    """(name, a factory of the screen) for every modal screen the workstation has."""
    from app.tui.annotate import AnnotateScreen, TagScreen
    from app.tui.demo import DemoScreen
    from app.tui.embed import EmbedScreen
    from app.tui.indexes import IndexPicker, IndexScreen
    from app.tui.ingest import IngestScreen
    from app.tui.live import LiveScreen
    from app.tui.live_add import AddLiveScreen
    from app.tui.profiles import ProfileEditor
    from app.tui.records import RecordHistoryScreen, RecordScreen, Target
    from app.tui.screens import HelpScreen, ProfilePicker
    from app.tui.search import SearchScreen
    from app.tui.versions import DatasetPicker, RestoreScreen, VersionsScreen
    from panes.memory import ReasonPrompt
    from panes.sql import CellViewer, HistoryPicker
    from panes.trials import Confirm

    lh = app.lh
    row = {"person_id": 2, "name": "Person 2", "state": "TX", "profile": "kubernetes"}
    target = Target("people", ["person_id"], ["2"], "name", "Person 2", row, ("sql", "SELECT * FROM people"))
    return [
        ("help", HelpScreen), ("profile picker", lambda: ProfilePicker(lh.profiles())),
        ("ingest", IngestScreen), ("search", lambda: SearchScreen(index="people")),
        ("embed", lambda: EmbedScreen("people", "profile")), ("index", lambda: IndexScreen("people")),
        ("index picker", lambda: IndexPicker(lh.indexes())), ("versions", lambda: VersionsScreen("people")),
        ("restore", lambda: RestoreScreen("people", 0, 1)), ("dataset picker", lambda: DatasetPicker(["people"])),
        ("edit", lambda: RecordScreen("edit", target)), ("delete", lambda: RecordScreen("delete", target)),
        ("record history", lambda: RecordHistoryScreen("people", "1", "person_id=1")),
        ("annotate", lambda: AnnotateScreen("people")), ("tag", lambda: TagScreen("people", "name")),
        ("live", LiveScreen), ("live add", AddLiveScreen), ("demo", DemoScreen),
        ("new profile", ProfileEditor), ("edit profile", lambda: ProfileEditor("analyst")),
        ("reason", lambda: ReasonPrompt("Why?", "an approach")), ("confirm", lambda: Confirm("Drop it?")),
        ("cell", lambda: CellViewer("x" * 5000)), ("query history", lambda: HistoryPicker([])),
    ]


def _problems(app, where: str) -> list[str]:
    """What is wrong with the screen on top: its box past the terminal, a widget the keyboard
    reaches that is off screen or too small once focused."""
    screen, size = app.screen, app.size
    out = []
    for child in screen.children:  # the modal's own box (the first level under the screen)
        r = child.region
        if child.display and (r.right > size.width or r.bottom > size.height or r.x < 0 or r.y < 0):
            out.append(f"{where}: {child.id or type(child).__name__} {r} is past the {size.width}x{size.height} terminal")
    return out


async def _check_focus_chain(app, pilot, where: str) -> list[str]:
    from textual.widgets import Input, Select

    out = []
    size = app.size
    def shown(w) -> bool:
        r = w.region
        return r.width >= 1 and r.height >= 1 and r.right <= size.width and r.bottom <= size.height

    for w in list(app.screen.focus_chain):
        w.focus()
        try:  # the focus scrolls it into view: on a busy machine that may take a few frames
            await until(pilot, lambda: shown(w), timeout=5)
        except AssertionError:
            pass  # said below
        r = w.region  # the part on screen, after the focus scrolled it into view
        name = w.id or type(w).__name__
        if r.width < 1 or r.height < 1:
            out.append(f"{where}: {name} has the focus but is not on screen")
        elif r.right > size.width or r.bottom > size.height:
            out.append(f"{where}: {name} {r} is past the terminal")
        elif isinstance(w, (Input, Select)) and r.width < 5:
            out.append(f"{where}: {name} is {r.width} cells wide: too narrow to type in")
    return out


async def _settle(app, pilot, screen) -> None:
    """Its workers have finished (a screen fills itself from the facade in workers)."""
    await pilot.pause()
    await until(pilot, lambda: not [w for w in app.workers if w.node is screen and w.is_running], timeout=60)
    await pilot.pause()


# the themes differ in colours only (themes/__init__.py), never in sizes, so each size runs once,
# in one theme each: both sizes and both themes are covered without running every pairing
@pytest.mark.long
@pytest.mark.parametrize("size, theme", list(zip(SIZES, THEMES)), ids=["80x24-dark", "200x60-light"])
def test_every_pane_and_screen_fits_and_every_focusable_widget_is_reachable(root, size, theme):
    from app.tui.app import LakehouseApp
    from panes.keys import PANES

    async def go():
        app = LakehouseApp(home=root, profile="default", theme=theme)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.lh is not None)
            assert app.theme == theme
            problems = []
            for pid, title, key in PANES:
                await pilot.press(key)
                await until(pilot, lambda: app.query_one("#panes").active == pid)
                await pilot.pause()
                problems += await _check_focus_chain(app, pilot, f"{title} pane")
            for name, make in screens(app):
                screen = make()
                await app.push_screen(screen)
                await _settle(app, pilot, screen)
                assert app.screen is screen, f"{name}: the screen closed itself"
                where = f"{name} screen at {size[0]}x{size[1]} ({theme})"
                problems += _problems(app, where)
                problems += await _check_focus_chain(app, pilot, where)
                screen.dismiss(None)
                await until(pilot, lambda: app.screen is not screen)
            assert not problems, "\n".join(problems)
    run(go())


@pytest.mark.long
def test_screens_closed_at_once_leave_no_error(root):
    """Escape straight after opening: a screen whose worker answers after it is gone."""
    from app.tui.app import LakehouseApp

    async def go():
        app = LakehouseApp(home=root, profile="default")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            for delay in (0, 0.05):  # before and while the screens' workers read the facade
                for _name, make in screens(app):
                    screen = make()
                    await app.push_screen(screen)
                    await pilot.pause(delay)
                    screen.dismiss(None)
                    await pilot.pause()
            await until(pilot, lambda: not [w for w in app.workers if w.is_running and w.node is not app], timeout=60)
            await pilot.pause(0.5)
            assert len(app.screen_stack) == 1
    run(go())


def test_a_connected_tui_outlives_its_daemon(root):
    """`tui --connect` and the daemon dies: the panes' timed refreshes (System every 3 s, the
    watches screen every 2 s) say so in a sentence instead of ending the app; ctrl+q quits."""
    from app.daemon import proxy as remote
    from app.tui.app import LakehouseApp
    from app.tui.live import LiveScreen
    from core import config
    from test_daemon import Served

    d = Served(root)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await pilot.press("f6")
                health = app.query_one("#system-health")
                await until(pilot, lambda: "storage" in str(health.render()), timeout=60)
                screen = LiveScreen()
                await app.push_screen(screen)
                await _settle(app, pilot, screen)
                d.stop()
                await pilot.pause(2 * 3.0 + 1)  # both refreshes have run against the gone daemon
                assert app.is_running and app.screen is screen
                screen.dismiss(None)
                await until(pilot, lambda: "cannot refresh: " in str(health.render()), timeout=60)
                await pilot.press("f2", "f4", "f6")
                assert app.is_running
                await pilot.press("ctrl+q")
        run(go())
    finally:
        d.stop()

"""Profiles from the TUI (app/tui/profiles.py), driven as a user would: from the profile
picker (ctrl+o) ctrl+n creates one with datasets ticked and a glob typed, ctrl+e edits the
highlighted one's HNSW settings, ctrl+d deletes it after a confirmation naming it; a
refusal (a bad value, a restricted profile, the active profile) is its one sentence and
nothing is written; lakehouse.toml keeps its comments; editing the profile in use rescopes
the panes; the palette reaches the same; through a daemon too; snapshots of the editor."""

from __future__ import annotations

import os
import shutil
import tomllib

import pytest
from textual.widgets import Input, SelectionList, Static

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOML = """\
# the team's settings: keep this comment
[sql]
timeout_s = 30  # seconds, and this one

[profiles.hr]
# HR sees people only
description = "human resources"
datasets = ["people"]  # the one dataset
indexes = ["people_*"]

[profiles.notes]
datasets = ["notes"]

[profiles.wide]
description = "sees it all"
datasets = ["*"]
"""


@pytest.fixture
def root(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(TOML)
    (data / "people.csv").write_text("id,name\n1,Ada\n2,Grace\n")
    (data / "notes.csv").write_text("id,body\n1,remember the milk\n")
    (data / "sales_2024.csv").write_text("id,amount\n1,10\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        for name in ("people", "notes", "sales_2024"):
            lh.ingest(data / f"{name}.csv", key="id")
    return home


def profiles(home) -> dict:
    return tomllib.loads((home / "lakehouse.toml").read_text())["profiles"]


def comments_kept(home) -> bool:
    text = (home / "lakehouse.toml").read_text()
    return all(c in text for c in ("# the team's settings: keep this comment", "# seconds, and this one",
                                   "# HR sees people only"))


def told(app) -> list[str]:
    """What the app notifies, recorded as it is said."""
    said: list[str] = []
    notify = app.notify

    def record(message, **kw):
        said.append(str(message))
        notify(message, **kw)
    app.notify = record
    return said


def message(app) -> str:
    return str(app.screen.query_one("#pe-message", Static).render())


def start(home, profile="default", opener=None):
    from app.tui import LakehouseApp

    return LakehouseApp(home=home, profile=profile, opener=opener)


async def picker(app, pilot, highlight: str | None = None) -> None:
    await pilot.press("ctrl+o")
    await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
    if highlight:
        ids = [pid for _, pid in app.screen.shown]
        app.screen.query_one("OptionList").highlighted = ids.index(highlight)


async def editor(app, pilot, key: str):
    await pilot.press(key)
    await until(pilot, lambda: app.screen.__class__.__name__ == "ProfileEditor"
                and app.screen.loaded)
    return app.screen


def test_create_with_datasets_ticked_and_a_glob(root):
    async def go():
        app = start(root)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await pilot.press("f3")
            await picker(app, pilot)
            screen = await editor(app, pilot, "ctrl+n")  # the picker's, not the app's next pane
            assert app.query_one("TabbedContent").active == "sql"
            assert app.screen.focused is screen.query_one("#pe-id", Input)
            await pilot.press(*"analysts")
            lists = screen.query_one("#pe-datasets", SelectionList)
            assert [lists.get_option_at_index(i).value for i in range(lists.option_count)] == \
                ["notes", "people", "sales_2024"]
            screen.set_focus(lists)
            await pilot.press("down", "space")  # people ticked
            screen.set_focus(screen.query_one("#pe-datasets-globs", Input))
            await pilot.press(*"sales_*")
            assert screen.query_one("#pe-indexes-globs", Input).value == "*"  # a new profile searches all
            screen.set_focus(screen.query_one("#pe-description", Input))
            await pilot.press(*"analysts: people and sales")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
            await until(pilot, lambda: "analysts" in [pid for _, pid in app.screen.shown])  # the list reloaded
            assert app.query_one("TabbedContent").active == "sql"
    run(go())
    p = profiles(root)["analysts"]
    assert p == {"description": "analysts: people and sales", "datasets": ["people", "sales_*"]}
    assert comments_kept(root) and profiles(root)["hr"]["datasets"] == ["people"]


def test_edit_the_hnsw_settings_keeps_the_rest_and_the_comments(root):
    async def go():
        app = start(root)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await picker(app, pilot, highlight="hr")
            screen = await editor(app, pilot, "ctrl+e")
            assert "Edit profile hr" in str(screen.query_one(Static).render())
            assert list(screen.query_one("#pe-datasets", SelectionList).selected) == ["people"]
            assert screen.query_one("#pe-indexes-globs", Input).value == "people_*"  # no index: kept as typed
            assert screen.query_one("#pe-description", Input).value == "human resources"
            for key, value in (("m", "32"), ("ef_search", "80")):
                screen.set_focus(screen.query_one(f"#pe-{key}", Input))
                await pilot.press(*value)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
    run(go())
    assert profiles(root)["hr"] == {"description": "human resources", "datasets": ["people"],
                                    "indexes": ["people_*"], "hnsw": {"m": 32, "ef_search": 80}}
    text = (root / "lakehouse.toml").read_text()
    assert comments_kept(root) and 'datasets = ["people"]  # the one dataset' in text  # untouched bytes stay


def test_hostile_text_in_a_profile_is_shown_literally_and_kept_as_it_was(root):
    """A description holding markup and an escape sequence: the picker and the editor show
    it as text (ESC visible, no markup), and saving other settings leaves it as written."""
    with (root / "lakehouse.toml").open("a") as f:
        f.write('\n[profiles.odd]\ndescription = "[b]Alan[/b] \\u001b[31mred"\ndatasets = ["notes"]\n')

    async def go():
        app = start(root)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await picker(app, pilot, highlight="odd")
            listed = str(app.screen.query_one("OptionList").get_option_at_index(
                [pid for _, pid in app.screen.shown].index("odd")).prompt)
            assert "[b]Alan[/b] \\x1b[31mred" in listed and "\x1b" not in listed
            screen = await editor(app, pilot, "ctrl+e")
            assert screen.query_one("#pe-description", Input).value == "[b]Alan[/b] \\x1b[31mred"
            screen.query_one("#pe-keep_alive", Input).value = "10m"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
    run(go())
    assert profiles(root)["odd"] == {"description": "[b]Alan[/b] \x1b[31mred", "datasets": ["notes"],
                                     "keep_alive": "10m"}


def test_delete_asks_naming_the_profile_and_refuses_the_active_one(root):
    async def go():
        app = start(root)
        async with app.run_test(size=(140, 45)) as pilot:
            said = told(app)
            await until(pilot, lambda: app.lh is not None)
            await picker(app, pilot, highlight="default")  # the one this TUI works as
            await pilot.press("ctrl+d")
            await until(pilot, lambda: any("is the active profile" in s for s in said))
            assert app.screen.__class__.__name__ == "ProfilePicker"  # no question asked
            app.screen.query_one("OptionList").highlighted = [pid for _, pid in app.screen.shown].index("notes")
            await pilot.press("ctrl+d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            assert "Delete profile notes?" in str(app.screen.query_one(Static).render())
            await pilot.press("n")  # no: nothing happens
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
            assert "notes" in profiles(root)
            await pilot.press("ctrl+d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: any("deleted profile notes" in s for s in said))
            await until(pilot, lambda: "notes" not in [pid for _, pid in app.screen.shown])
    run(go())
    assert sorted(profiles(root)) == ["hr", "wide"] and comments_kept(root)


def test_the_palette_deletes_a_profile_it_asks_which_of(root):
    async def go():
        app = start(root)
        async with app.run_test(size=(80, 24)) as pilot:
            said = told(app)
            await until(pilot, lambda: app.lh is not None)
            await app.run_action("delete_profile")  # the palette's "Delete profile"
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfileChooser")
            assert "Delete which profile?" in str(app.screen.query_one(Static).render())
            await pilot.press(*"notes", "enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: any("deleted profile notes" in s for s in said))
    run(go())
    assert "notes" not in profiles(root) and comments_kept(root)


@pytest.mark.parametrize("field,value,words", [
    ("id", "Bad Name", "profile name 'Bad Name' is invalid"),
    ("sql_memory_limit", "lots", "must be a size such as 512MB or 2GB"),
    ("ef_search", "0", "of positive integers"),
    ("autotune_min_recall", "1.5", "above 0 and at most 1"),
])
def test_a_bad_value_is_refused_in_one_sentence_and_nothing_is_written(root, field, value, words):
    before = (root / "lakehouse.toml").read_bytes()

    async def go():
        app = start(root)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await picker(app, pilot)
            screen = await editor(app, pilot, "ctrl+n")
            screen.query_one("#pe-id", Input).value = "newcomer"
            screen.query_one("#pe-datasets-globs", Input).value = "people"
            screen.query_one(f"#pe-{field}", Input).value = value
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "not saved:" in message(app))
            said = message(app)
            assert words in said and "Traceback" not in said and "\n" not in said.strip()
            assert app.screen is screen  # the form stays, as typed, to correct
            screen.query_one("#pe-datasets-globs", Input).value = ""  # and the form's own checks
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "datasets: tick at least one" in message(app))
    run(go())
    assert (root / "lakehouse.toml").read_bytes() == before


def test_a_restricted_profile_cannot_create_edit_or_delete(root):
    """hr sees only people: restricted. It is told before any form, and the core refuses
    a save all the same (the editor opened by other means)."""
    from app.tui.profiles import ProfileEditor

    before = (root / "lakehouse.toml").read_bytes()

    async def go():
        app = start(root, profile="hr")
        async with app.run_test(size=(140, 45)) as pilot:
            said = told(app)
            await until(pilot, lambda: app.lh is not None)
            await picker(app, pilot, highlight="hr")
            for key, what in (("ctrl+n", "creating"), ("ctrl+e", "editing"), ("ctrl+d", "deleting")):
                await pilot.press(key)
                await until(pilot, lambda: any(f"cannot do {what} profiles" in s for s in said))
                assert app.screen.__class__.__name__ == "ProfilePicker"
            assert any("profile hr is restricted to its own datasets" in s for s in said)
            await pilot.press("escape")
            app.push_screen(ProfileEditor("hr"))
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfileEditor"
                        and app.screen.loaded)
            assert [app.screen.query_one("#pe-datasets", SelectionList).get_option_at_index(i).value
                    for i in range(app.screen.query_one("#pe-datasets", SelectionList).option_count)] == ["people"]
            app.screen.query_one("#pe-m", Input).value = "64"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "not saved:" in message(app))
            assert "cannot do editing profiles" in message(app)
    run(go())
    assert (root / "lakehouse.toml").read_bytes() == before


def test_a_profile_bound_by_a_policy_is_restricted_too(root):
    with (root / "lakehouse.toml").open("a") as f:
        f.write('\n[profiles.watched]\ndatasets = ["*"]\n\n[policies.hide]\nprofiles = ["watched"]\n'
                'masks = { "people.name" = "hash" }\n')
    before = (root / "lakehouse.toml").read_bytes()

    async def go():
        app = start(root, profile="watched")
        async with app.run_test(size=(140, 45)) as pilot:
            said = told(app)
            await until(pilot, lambda: app.lh is not None)
            await app.run_action("new_profile")  # the palette's entry
            await until(pilot, lambda: any("profile watched is restricted" in s for s in said))
            assert app.screen.__class__.__name__ != "ProfileEditor"
    run(go())
    assert (root / "lakehouse.toml").read_bytes() == before


def test_editing_the_profile_in_use_rescopes_the_panes(root):
    async def go():
        app = start(root, profile="wide")
        async with app.run_test(size=(140, 45)) as pilot:
            said = told(app)
            await until(pilot, lambda: app.lh is not None)
            await app.run_action("edit_profile")  # the palette's entry: which profile?
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfileChooser")
            assert "Edit which profile?" in str(app.screen.query_one(Static).render())
            await pilot.press(*"wide", "enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfileEditor"
                        and app.screen.loaded)
            screen = app.screen
            screen.query_one("#pe-datasets-globs", Input).value = "notes"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: any("wide is the active profile" in s for s in said), timeout=60)
            assert [d.name for d in app.lh.datasets()] == ["notes"]
    run(go())
    assert profiles(root)["wide"]["datasets"] == ["notes"]


def test_through_the_daemon_create_edit_and_delete(root):
    """`lakehouse tui --connect`: the same flows against the daemon's facade, at 80x24."""
    from app.daemon import proxy as remote
    from core import config
    from test_daemon import Served

    d = Served(root)
    try:
        async def go():
            app = start(root, opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                said = told(app)
                await until(pilot, lambda: app.lh is not None)
                await picker(app, pilot)
                screen = await editor(app, pilot, "ctrl+n")
                screen.query_one("#pe-id", Input).value = "remote-made"
                screen.query_one("#pe-datasets-globs", Input).value = "notes, sales_*"
                await pilot.press("ctrl+s")
                await until(pilot, lambda: "remote-made" in [pid for _, pid in app.screen.shown])
                app.screen.query_one("OptionList").highlighted = [p for _, p in app.screen.shown].index("remote-made")
                screen = await editor(app, pilot, "ctrl+e")
                assert list(screen.query_one("#pe-datasets", SelectionList).selected) == ["notes"]
                screen.query_one("#pe-ef_construction", Input).value = "120"
                await pilot.press("ctrl+s")
                await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
                assert profiles(root)["remote-made"]["hnsw"] == {"ef_construction": 120}
                await pilot.press("ctrl+d")
                await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
                await pilot.press("y")
                await until(pilot, lambda: any("deleted profile remote-made" in s for s in said))
        run(go())
    finally:
        d.stop()
    assert "remote-made" not in profiles(root) and comments_kept(root)


@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed")
def test_the_keys_arrive_through_tmux(home, tmp_path):
    """ctrl+o, then the picker's ctrl+n / ctrl+e / ctrl+d and the editor's ctrl+s, as a
    terminal in tmux sends them (ctrl+s is XOFF to a terminal that is not in raw mode)."""
    from test_tmux import EXE, Tmux

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(TOML)
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "OLLAMA_HOST": "127.0.0.1:9", "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    t = Tmux(tmp_path / "t.sock", f"{EXE} tui; sleep 60", env, 80, 24)
    try:
        t.wait_for(lambda s: "Explore (F2)" in s and "Quit" in s, "the workstation")
        t.keys("C-o")
        t.wait_for(lambda s: "Switch profile" in s, "the profile picker")
        t.keys("C-n")
        t.wait_for(lambda s: "New profile" in s and "tick with space" in s, "the editor, loaded")
        t.type("tmuxed")
        t.keys("Tab", "Tab")  # description, then the datasets box (no dataset to tick in this root)
        t.type("docs_*")
        t.keys("C-s")
        t.wait_for(lambda s: "tmuxed" in s and "Switch profile" in s, "the picker with the new profile")
        assert profiles(home)["tmuxed"] == {"datasets": ["docs_*"]}
        t.keys("C-e")  # the profile just saved is the highlighted one
        t.wait_for(lambda s: "Edit profile tmuxed" in s, "the editor on it")
        t.keys("Escape")
        t.wait_for(lambda s: "Switch profile" in s and "Edit profile" not in s, "the picker again")
        t.keys("C-d")
        t.wait_for(lambda s: "Delete profile tmuxed?" in s, "the question")
        t.keys("y")
        t.wait_for(lambda s: "tmuxed" not in s.split("Switch profile")[-1], "the picker without it")
        assert "tmuxed" not in profiles(home) and comments_kept(home)
        assert "Traceback" not in t.screen()
    finally:
        t.close()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_profile_editor(snap_home, snap_compare, size):  # noqa: F811
    """ctrl+o, research highlighted, ctrl+e: its description, staff ticked, the models note."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
        await pilot.press("down", "down")  # default, empty, research
        await editor(app, pilot, "ctrl+e")
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


def test_the_form_sends_only_what_changed_and_refuses_what_it_cannot_clear():
    """Editing: the same datasets in another order are left as written (their line and its
    comment stay), unchanged text is not sent, and a number the core cannot clear is refused."""
    from app.tui.profiles import FormError, changes

    before = {"datasets": ["people", "docs_*"], "indexes": ["*"], "description": "d", "hnsw": {"m": 16},
              "sql_timeout_s": 5.0}
    form = {"datasets": ["docs_*", "people"], "indexes": ["*"], "description": "d", "chat_model": "", "embedder": "",
            "embed_model": "", "keep_alive": "", "sql_memory_limit": "", "autotune_objective": "", "m": "16",
            "ef_construction": "", "ef_search": "", "sql_timeout_s": "5", "autotune_min_recall": "", "memory": ""}
    assert changes(form, before) == {"hnsw": {"m": 16}, "sql_timeout_s": 5.0}
    with pytest.raises(FormError, match="its SQL time limit .* cannot be emptied here"):
        changes({**form, "sql_timeout_s": ""}, before)
    with pytest.raises(FormError, match="HNSW m must be a whole number"):
        changes({**form, "m": "1.5"}, before)
    assert changes({**form, "description": ""}, before)["description"] == ""  # cleared

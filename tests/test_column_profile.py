"""Column profiles (issue 20): one column's figures, computed by DuckDB through the
profile's engine (masks apply), cached per dataset version, cancellable, and drawn in
Explore (the figures and a textual-plotext chart)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from conftest import write
from test_snapshots import app_on, snap_home, stabilise  # noqa: F401 — snap_home is a fixture
from test_snapshots import opened as snap_opened
from test_tui import opened, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KNOWN = """id,team,score,born,ok,nothing,ratio
1,red,10,2020-01-01,true,,0.5
2,blue,20,2020-06-01,false,,1.5
3,red,30,2021-01-01,true,,nan
4,red,,2022-01-01,,,2.5
5,green,40,,true,,1.0
"""


@pytest.fixture
def lh(home, tmp_path):
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(write(tmp_path / "known.csv", KNOWN))], key="id")
        yield lh


def test_the_figures_of_a_numeric_column_are_exact(lh):
    p = lh.column_profile("known", "score")
    assert (p["type"], p["kind"], p["rows"], p["nulls"]) == ("BIGINT", "numeric", 5, 1)
    assert p["null_share"] == 0.2 and p["distinct"] == 4 and p["distinct_approx"] is False
    assert (p["min"], p["max"]) == (10, 40)
    assert [t["count"] for t in p["top"]] == [1, 1, 1, 1] and {t["value"] for t in p["top"]} == {10, 20, 30, 40}
    bins = p["histogram"]
    assert sum(b["count"] for b in bins) == p["rows"] - p["nulls"]  # every non-null value has its bin
    assert bins[0]["lo"] == 10 and bins[-1]["hi"] >= 40
    assert all(a["hi"] == b["lo"] for a, b in zip(bins, bins[1:]))  # edges meet
    json.dumps(p)  # JSON-ready as it is


def test_text_date_bool_float_and_all_null_columns(lh):
    team = lh.column_profile("known", "team")
    assert team["kind"] == "text" and team["histogram"] is None
    assert team["top"] == [{"value": "red", "count": 3}, {"value": "blue", "count": 1},
                           {"value": "green", "count": 1}]
    born = lh.column_profile("known", "born")
    assert born["kind"] == "date" and (born["min"], born["max"]) == ("2020-01-01", "2022-01-01")
    assert sum(b["count"] for b in born["histogram"]) == 4 and born["histogram"][0]["lo"] == "2020-01-01"
    ok = lh.column_profile("known", "ok")
    assert ok["kind"] == "bool" and ok["top"] == [{"value": True, "count": 3}, {"value": False, "count": 1}]
    assert ok["nulls"] == 1 and ok["histogram"] is None
    ratio = lh.column_profile("known", "ratio")  # NaN has no bin: counted apart
    assert ratio["non_finite"] == 1 and sum(b["count"] for b in ratio["histogram"]) == 4
    nothing = lh.column_profile("known", "nothing")
    assert (nothing["nulls"], nothing["null_share"], nothing["distinct"], nothing["top"]) == (5, 1.0, 0, [])
    assert nothing["min"] is None and not nothing["histogram"]


def test_an_empty_table_and_a_missing_column(lh, tmp_path):
    import duckdb

    from core.errors import NotFound

    path = tmp_path / "empty.parquet"
    duckdb.sql(f"COPY (SELECT 1::BIGINT AS n, 'x' AS s WHERE false) TO '{path}' (FORMAT parquet)")
    lh.ingest([str(path)])
    for col in ("n", "s"):
        p = lh.column_profile("empty", col)
        assert (p["rows"], p["nulls"], p["null_share"], p["distinct"], p["top"]) == (0, 0, None, 0, [])
        assert not p["histogram"]
    with pytest.raises(NotFound, match="known has no column 'nope'"):
        lh.column_profile("known", "nope")


def test_cached_per_dataset_version(lh):
    assert lh.column_profile("known", "score")["cached"] is False
    assert lh.column_profile("known", "score")["cached"] is True  # the same version: no query
    lh.update("known", "4", {"score": "50"}, reason="found it")  # a new version
    p = lh.column_profile("known", "score")
    assert p["cached"] is False and p["nulls"] == 0 and p["max"] == 50


def test_a_masked_column_shows_masked_values_only(tmp_path):
    from core import Lakehouse
    from test_policies import CONFIG, PEOPLE, SECRETS

    h = tmp_path / "pol"
    h.mkdir()
    (h / "lakehouse.toml").write_text(CONFIG)
    with Lakehouse.open(home=h) as lh:
        lh.ingest([str(write(tmp_path / "people.csv", PEOPLE))], key="id")
    with Lakehouse.open(home=h, profile="analyst") as analyst:
        shown = {c: analyst.column_profile("people", c) for c in ("ssn", "email", "salary", "name", "card", "id")}
    text = json.dumps(shown)
    assert [s for s in SECRETS if s in text] == []
    assert shown["ssn"]["masked"] == "last4" and shown["ssn"]["rows"] == 2  # the row filter holds too
    assert shown["salary"]["nulls"] == 2  # masked to null


def test_a_profile_of_ten_million_rows_is_cancelled_by_interrupting_its_query(lh, tmp_path):
    import duckdb

    from core.errors import LakehouseError

    path = tmp_path / "big.parquet"
    duckdb.sql(f"COPY (SELECT range AS x FROM range(10000000)) TO '{path}' (FORMAT parquet)")
    lh.ingest([str(path)])
    path.unlink()
    failed: list = []

    def profile():
        try:
            lh.column_profile("big", "x")
        except LakehouseError as e:
            failed.append(e)

    worker = threading.Thread(target=profile)
    worker.start()
    while worker.is_alive():  # DuckDB forgets an interrupt that comes before its query starts: again
        lh.interrupt_sql(thread=worker.ident)
        time.sleep(0.01)
    worker.join(120)
    assert failed and "interrupt" in str(failed[0]).lower()
    p = lh.column_profile("big", "x")  # nothing half-made was cached; the next call computes it
    assert p["cached"] is False and p["rows"] == 10_000_000 and p["distinct_approx"] is True
    assert sum(b["count"] for b in p["histogram"]) == 10_000_000


# -- Explore ----------------------------------------------------------------------------------
async def _select_column(app, pilot, dataset: str, column: str) -> None:
    """Expand `dataset` in Explore's tree and put the cursor on its `column`."""
    await pilot.press("f2")
    tree = app.query_one("#explore-tree")
    await until(pilot, lambda: bool(tree.root.children) and tree.root.children[0].children)
    node = next(n for n in tree.root.children[0].children if n.data == ("dataset", dataset))
    tree.focus()
    tree.move_cursor(node)
    await pilot.press("space")
    await until(pilot, lambda: bool(node.children))
    tree.move_cursor(next(n for n in node.children if n.data == ("column", dataset, column)))


def _drawn(app) -> bool:
    """The profile's chart is mounted and its figure built (in its worker) for its size."""
    charts = app.query("#explore-chart")
    return bool(charts) and charts.first()._drawn is not None


def test_explore_draws_a_selected_columns_profile(home, tmp_path):
    from core import Lakehouse
    from textual_plotext import PlotextPlot

    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(write(tmp_path / "known.csv", KNOWN))], key="id")

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            info = app.query_one("#explore-info")
            await _select_column(app, pilot, "known", "score")
            await until(pilot, lambda: "distinct 4" in str(info.render()))
            assert "nulls 1 (20.0%)" in str(info.render()) and "min 10 · max 40" in str(info.render())
            await until(pilot, lambda: _drawn(app))  # the histogram
            assert isinstance(app.query_one("#explore-chart"), PlotextPlot)
            await pilot.press("up")  # the column above: text, drawn as its top values
            await until(pilot, lambda: "known.team" in str(info.render()) and "red ×3" in str(info.render()))
            await until(pilot, lambda: _drawn(app))
    asyncio.run(go())


def test_a_newer_selection_interrupts_the_profile_still_computing(home, tmp_path):
    """Explore: while one column's profile computes ("computing…" shown), moving to another
    column interrupts the first one's query (the facade's interrupt for its thread) and
    shows the second; the first one's outcome is never shown."""
    from core import Lakehouse
    from core.errors import SqlError

    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(write(tmp_path / "known.csv", KNOWN))], key="id")

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            lh = app.lh
            real, stop, interrupted = lh.column_profile, threading.Event(), []
            slow_thread: list = []

            def column_profile(dataset, column):
                if column == "score":  # a query that runs until it is interrupted
                    slow_thread.append(threading.get_ident())
                    assert stop.wait(60)
                    raise SqlError("INTERRUPT Error: Interrupted!")
                return real(dataset, column)

            def interrupt_sql(thread=None):
                interrupted.append(thread)
                stop.set()
                return True

            lh.column_profile, lh.interrupt_sql = column_profile, interrupt_sql
            info = app.query_one("#explore-info")
            await _select_column(app, pilot, "known", "score")
            await until(pilot, lambda: "computing the profile of known.score" in str(info.render()))
            await pilot.press("down")  # born
            await until(pilot, lambda: "known.born" in str(info.render()) and "DATE" in str(info.render()))
            assert set(interrupted) == set(slow_thread)  # the older computation's thread, and only it
            await pilot.pause(0.3)
            assert "known.born" in str(info.render()) and "Interrupt" not in str(info.render())
    asyncio.run(go())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_explore_with_a_column_profile(snap_home, snap_compare, size):  # noqa: F811
    """Explore at 80×24 and 160×48 with `staff.salary` selected: its figures and histogram."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await snap_opened(pilot)
        await _select_column(app, pilot, "staff", "salary")
        await until(pilot, lambda: "staff.salary" in str(app.query_one("#explore-info").render())
                    and _drawn(app))
        await stabilise(pilot)

    assert snap_compare(app_on(snap_home), terminal_size=size, run_before=run_before)

"""The `lakehouse` entry's fast path (app/fast.py): `sql` against a running daemon without
loading the CLI. Whatever it serves must print exactly what the full CLI prints — stdout,
stderr and exit code — and whatever it does not, the full CLI runs itself. The full CLI
here is the same command with LAKEHOUSE_NO_FAST=1. No timing is asserted (that is
bench/fast_path.py's)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from test_daemon import LAKEHOUSE, Served

PY = sys.executable

TYPES = ("SELECT 1 AS i, -2::BIGINT AS b, 3::UTINYINT AS u, 'a,b' AS s, 'say \"hi\"' AS q, "
         "'two\nlines' AS nl, '' AS empty, NULL AS nothing, NULL::VARCHAR AS ns, true AS yes, false AS no, "
         "'ünï ✓' AS uni, 'tab\there \x1b[31mred' AS ctl")
FLOATS = ("SELECT 1.5::DOUBLE AS d, 'nan'::DOUBLE AS n, 'inf'::DOUBLE AS i, '-inf'::DOUBLE AS m, "
          "0.1::FLOAT AS f, -0.0::DOUBLE AS z, 1e300 AS big")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fast")
    home = tmp / "home"
    home.mkdir()
    (home / "lakehouse.toml").write_text("[daemon]\nshutdown_grace_s = 1.0\n")
    csv = tmp / "people.csv"
    csv.write_text('id,name,city,score\n1,Ann,"Chicago, IL",1.5\n2,"Bob ""B""",,2\n3,Céline,Paris,\n')
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "OLLAMA_HOST": "127.0.0.1:9"}
    subprocess.run([LAKEHOUSE, "ingest", str(csv), "--name", "people", "--key", "id"], env=env, check=True,
                   capture_output=True)
    d = Served(home, {"OLLAMA_HOST": "127.0.0.1:9"})
    yield d
    d.stop()


def run(served: Served, *args: str, fast: bool = True, env: dict | None = None, input: str | None = None):
    e = {k: v for k, v in served.env.items() if k not in ("LAKEHOUSE_NO_FAST", "LAKEHOUSE_DEBUG_IMPORTS")}
    e.update({"COLUMNS": "200", **(env or {})})
    if not fast:
        e["LAKEHOUSE_NO_FAST"] = "1"
    p = subprocess.run([LAKEHOUSE, *args], capture_output=True, input=input, env=e, timeout=120)
    return p.returncode, p.stdout, p.stderr


def same(served: Served, *args: str, **kw):
    fast, full = run(served, *args, **kw), run(served, *args, fast=False, **kw)
    assert fast == full, args
    return fast


def imports(served: Served, *args: str, env: dict | None = None) -> tuple[int, str]:
    """The heavy modules the entry imported (app/fast.py's LAKEHOUSE_DEBUG_IMPORTS line)."""
    code, _, err = run(served, *args, env={"LAKEHOUSE_DEBUG_IMPORTS": "1", **(env or {})})
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("imports: "), err
    return code, last.removeprefix("imports: ")


def test_results_are_the_full_clis_bytes(served):
    """Tables (json and csv are the full CLI's own: nothing to compare)."""
    for q in ("SELECT 1", "SELECT * FROM people ORDER BY id", TYPES, FLOATS,
              "SELECT * FROM people WHERE id < 0", "SELECT 1 AS a, 2 AS a",
              "SELECT 'x' AS \"a,b\", 2 AS \"q\"\"\"", "SELECT DATE '2026-01-31' AS d, 1.25::DECIMAL(5,2) AS m",
              "SELECT * FROM range(1500)", "SELECT [1, 2] AS l, {'k': 1} AS st"):
        code, out, err = same(served, "--remote", served.sock, "sql", q)
        assert code == 0 and out and not err, (q, err)


def test_errors_are_the_full_clis(served):
    for q, expect in (("DELETE FROM people", None), ("SELEC 1", None), ("SELECT * FROM nope", "nope"),
                      ("SELECT 1; SELECT 2", None), ("", None)):
        code, out, err = same(served, "--remote", served.sock, "sql", q)
        assert code != 0 and not out and err.startswith(b"error: ") and b"Traceback" not in err, (q, err)
        if expect:
            assert expect.encode() in err


@pytest.mark.long
def test_the_arguments_it_takes_and_the_ones_it_leaves(served):
    s = served.sock
    for argv in (["--remote", s, "sql", "SELECT 2 AS x"], ["sql", "SELECT 2 AS x", "--remote", s],
                 ["sql", "--remote", s, "SELECT 2 AS x", "--format=json"], [f"--remote={s}", "sql", "SELECT 2"],
                 ["--profile", "default", "--remote", s, "sql", "SELECT 2", "--format", "csv"],
                 ["--profile=nobody", "--remote", s, "sql", "SELECT 2"],
                 ["--home", str(served.home), "--remote", s, "sql", "SELECT 2", "--format", "json"],
                 ["--remote", s, "sql", "SELECT 2", "--format", "parquet"],
                 ["--remote", s, "sql", "SELECT 2", "--format", "JSON"],
                 ["--remote", s, "sql", "SELECT 2", "--format", "json", "--format", "csv"],
                 ["--remote", s, "sql", "SELECT 2", "--as-of", "v1"],
                 ["--remote", s, "sql", "-- a note\nSELECT 2"],
                 ["--remote", s, "sql"], ["--remote", s, "sql", "SELECT 1", "SELECT 2"],
                 ["--remote", s, "sql", "SELECT 2", "--format"], ["--remote", s, "--profile"],
                 ["--remote", s, "datasets"], ["--remote", s, "sql", "--help"], ["--version"]):
        same(served, *argv)
    same(served, "--remote", s, "sql", "-", "--format", "json", input=b"SELECT 3 AS piped")


def test_the_fast_path_imports_no_cli_engine_or_arrow(served):
    s = served.sock
    assert imports(served, "--remote", s, "sql", "SELECT * FROM nope") == (1, "-")
    for fmt in ("json", "csv"):  # the Arrow way, whatever the size: a query never runs twice
        code, heavy = imports(served, "--remote", s, "sql", "SELECT id, name, city FROM people", "--format", fmt)
        assert code == 0 and "typer" in heavy and "pyarrow" in heavy
    assert imports(served, "--remote", s, "sql", "SELECT * FROM people") == (0, "rich")  # é: rich draws it
    assert imports(served, "--remote", s, "sql", "SELECT id, city FROM people") == (0, "-")  # drawn by app.fast
    code, heavy = imports(served, "--remote", s, "datasets")
    assert code == 0 and "typer" in heavy


def test_no_daemon_at_the_socket_is_the_same_error(served, tmp_path):
    gone = str(tmp_path / "gone.sock")
    for fmt in ("table", "json"):
        code, out, err = same(served, "--remote", gone, "sql", "SELECT 1", "--format", fmt)
        assert code == 1 and b"no daemon answers at" in err
    assert imports(served, "--remote", gone, "sql", "SELECT 1")[0] == 1


def test_auto_connect_uses_the_daemon_and_falls_back_in_process_without_one(served, tmp_path):
    toml = tmp_path / "auto.toml"
    toml.write_text(f'[daemon]\nauto_connect = true\nsocket = "{served.sock}"\n')
    argv = ("--config", str(toml), "sql", "SELECT count(*) AS n FROM people", "--format", "json")
    code, out, err = same(served, *argv)
    assert code == 0 and b'"n": 3' in out
    table = argv[:-2]
    assert imports(served, *table) == (0, "-")  # served by the daemon: nothing heavy here
    toml.write_text(f'[daemon]\nauto_connect = true\nsocket = "{tmp_path / "none.sock"}"\n')
    code, out, err = same(served, *argv)
    assert code == 0 and b'"n": 3' in out
    assert "duckdb" in imports(served, *argv)[1]  # no daemon: in-process, as the full CLI does


def test_python_m_app_takes_the_same_entry(served):
    e = {**served.env}
    e.pop("LAKEHOUSE_NO_FAST", None)
    p = subprocess.run([PY, "-m", "app", "--remote", served.sock, "sql", "SELECT 5 AS five"],
                       capture_output=True, env={**e, "LAKEHOUSE_DEBUG_IMPORTS": "1"}, timeout=120)
    assert p.returncode == 0 and b"five" in p.stdout and p.stderr.strip().endswith(b"imports: -")
    p = subprocess.run([PY, "-m", "app", "--remote", served.sock, "sql", "SELECT 5 AS five"],
                       capture_output=True, env=e, timeout=120)
    full = subprocess.run([PY, "-c", "from app.cli import main; main()", "--remote", served.sock, "sql",
                           "SELECT 5 AS five"], capture_output=True, env=e, timeout=120)
    assert (full.returncode, full.stdout, full.stderr) == (0, p.stdout, b"")


@pytest.mark.parametrize("columns", [None, "200", "60"])
def test_tables_drawn_without_rich_are_richs_bytes(monkeypatch, columns):
    """app.fast._table against app.output.print_result (rich) on random small results:
    whatever _table draws must be byte for byte rich's; the rest it leaves to rich."""
    import io
    import random

    from app import fast
    from app.output import print_result

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(k, raising=False)
    rnd = random.Random(15)
    alphabet = ["a", "Z", "7", " ", ",", '"', "[b]", "∅", "…", "⏎", "\n", "\t", "\x1b[31m", "漢", "é", "\u202e"]

    def value():
        kind = rnd.randrange(7)
        if kind == 0:
            return None
        if kind == 1:
            return rnd.randrange(-10**12, 10**12)
        if kind == 2:
            return rnd.choice([1.5, -0.0, 1e300, "nan", True, False])
        n = rnd.choice([0, 1, 3, 8, 20, 59, 60, 61, 75])
        return "".join(rnd.choice(alphabet[:7] if kind < 5 else alphabet) for _ in range(n))

    drawn = 0
    for _ in range(400):
        ncols, nrows = rnd.randrange(0, 6), rnd.randrange(0, 5)
        cols = ["".join(rnd.choice(alphabet[:3]) for _ in range(rnd.randrange(1, 12))) for _ in range(ncols)]
        rows = [[value() for _ in cols] for _ in range(nrows)]
        result = {"columns": cols, "types": ["string"] * ncols, "rows": rows,
                  "row_count": nrows + rnd.choice([0, 0, 1, 2500])}
        buf = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n")
        monkeypatch.setattr(sys, "stdout", buf)
        text = fast._table(result)
        if text is None:
            continue
        print_result(result)
        buf.flush()
        assert text.encode() == buf.buffer.getvalue(), result
        drawn += 1
    assert drawn > 100

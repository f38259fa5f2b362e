"""`lakehouse`'s first stage: `sql` against a running daemon without loading the CLI.

The `lakehouse` entry point starts here. From sys.argv alone it recognises the one case
it serves exactly as the full CLI (app/cli) would — a daemon is the target (`--remote
[SOCKET]`, or `[daemon] auto_connect` with one answering) and the command is
`sql TEXT [--format table]`, with only `--home`, `--config`, `--profile` and
`--remote` beside it — and forwards the query as `sql_rows` over the socket with the
client of app/daemon/proxy.py (the same trust checks: socket directory and owner, peer
credentials, token, timeouts). Typer, DuckDB and pyarrow are never imported here; rich
only for a table it cannot draw exactly as rich does (_table: a terminal, wide or
non-ASCII cells, a table wider than the screen) — app.output renders those, as in the
full CLI.

Anything else, and any doubt, runs the full CLI with the same argv, so behaviour never
changes: another command or option (json, csv and parquet output go the Arrow way: a
result of any size streams there, and a query is never run twice), a query from stdin,
no daemon where auto_connect would run in-process, an unexpected exception before the
query was sent. A table needs only the first `sql.display_rows` rows and the count, which
`sql_rows` gives whatever the result's size. Errors the full CLI would report
(a LakehouseError: a bad config, no daemon, an untrusted socket, a refused profile or
query) are said here in its words: `error: …`, the same exit code.

LAKEHOUSE_NO_FAST=1 always takes the full CLI. LAKEHOUSE_DEBUG_IMPORTS=1 prints, at exit,
which heavy modules this process imported (stderr, one line: `imports: a,b` or `imports: -`).
"""

from __future__ import annotations

import os
import sys

from app.globals import REMOTE, VALUED, looks_like_address

_HEAVY = ("typer", "click", "rich", "duckdb", "pyarrow", "numpy", "pandas", "deltalake", "textual")
_FORMATS = ("table",)


class _Fallback(Exception):
    """Not for the fast path: run the full CLI."""


def parse(argv: list[str]) -> dict | None:
    """The fast case's options, or None for anything else. Globals may come before or
    after `sql` (as app.cli.argv.normalise_argv allows); each at most once."""
    opts: dict = {"home": None, "config": None, "profile": None, "remote": None, "query": None, "format": "table"}
    seen: set[str] = set()
    command = False
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, value = a.partition("=")
        if a == REMOTE or name == REMOTE and eq:
            if "remote" in seen:
                return None
            seen.add("remote")
            if eq:
                opts["remote"] = value or "-"
            elif i + 1 < len(argv) and looks_like_address(argv[i + 1]):
                opts["remote"], i = argv[i + 1], i + 1
            else:
                opts["remote"] = "-"
        elif name in VALUED:
            key = name[2:]
            if key in seen:
                return None
            seen.add(key)
            if eq:
                opts[key] = value
            elif i + 1 < len(argv):
                opts[key], i = argv[i + 1], i + 1
            else:
                return None  # the full CLI says what is missing
        elif not command:
            if a != "sql":
                return None
            command = True
        elif name == "--format":
            if "format" in seen:
                return None
            seen.add("format")
            if not eq:
                if i + 1 >= len(argv):
                    return None
                value, i = argv[i + 1], i + 1
            if value not in _FORMATS:
                return None
            opts["format"] = value
        elif a.startswith("-") or opts["query"] is not None:
            return None  # another option, stdin ("-"), a query that could read as an option, a second word
        else:
            opts["query"] = a
        i += 1
    if not command or opts["query"] is None:
        return None
    return opts


def main() -> None:
    if os.environ.get("LAKEHOUSE_DEBUG_IMPORTS"):
        import atexit

        atexit.register(_report_imports)
    opts = None if os.environ.get("LAKEHOUSE_NO_FAST") else parse(sys.argv[1:])
    if opts is not None:
        try:
            code = _run(opts)
        except _Fallback:
            pass
        except Exception as e:  # a bug: as app.cli.main says it
            if os.environ.get("LAKEHOUSE_DEBUG"):
                raise
            say(f"error: unexpected {type(e).__name__}: {e} — this is a bug in lakehouse; "
                "run again with LAKEHOUSE_DEBUG=1 to see the traceback and report it", file=sys.stderr)
            sys.exit(70)
        else:
            sys.exit(code)
    from app.cli import main as cli_main

    cli_main()


def _report_imports() -> None:
    heavy = sorted(m for m in _HEAVY if m in sys.modules)
    sys.stderr.write(f"imports: {','.join(heavy) or '-'}\n")
    sys.stderr.flush()


def _connect(opts: dict):
    """The daemon's proxy, as app.cli.session.open_lh makes it; _Fallback when the full CLI would
    not use a daemon. Its errors (a bad config, no daemon answering, an untrusted socket,
    a refused profile) are LakehouseErrors, said exactly as the full CLI says them."""
    try:
        from app.daemon import proxy as remote
        from core import config as config_mod

        cfg = config_mod.load(home=opts["home"], config_file=opts["config"], profile=opts["profile"])
        if opts["remote"] is not None:
            address = remote.address_for(cfg, None if opts["remote"] == "-" else opts["remote"])
        elif cfg.get("daemon.auto_connect"):
            address = remote.running(cfg)
        else:
            address = None
        if address is None:
            raise _Fallback
        import core.profiles.store  # noqa: F401 — the session's Profile is rebuilt without walking core
        return cfg, remote.RemoteLakehouse(address, remote.token_for(cfg, address), cfg.profile,
                                           **remote.timeouts(cfg))
    except Exception as e:
        from core.errors import LakehouseError

        if isinstance(e, (_Fallback, LakehouseError)):  # a refusal is said as app.cli.main says it, and
            raise  # the daemon is not connected to twice (nor a stuck one waited for twice)
        raise _Fallback from None  # anything else: the full CLI, in its own words


def say(*values, file=None) -> None:
    """app.output.say (control characters shown inert), imported only when a line is said."""
    from app.output import say as _say

    _say(*values, file=file)


def _run(opts: dict) -> int:
    from core.errors import LakehouseError

    lh = None
    notes: list[str] = []
    try:
        try:
            cfg, lh = _connect(opts)
            if cfg.profile is None and lh.profile.id != "default":  # the same lines as app.cli.session.open_lh
                notes.append(f"profile: {lh.profile.id} (the active profile; `lakehouse --profile default profile "
                             "activate default` to leave it)")
            notes += [f"recovered: {note}" for note in lh.recovery_notes]
            notes += [f"warning: {problem}" for problem in lh.profile_problems]
            result = lh.sql_rows(opts["query"], lh.config.get("sql.display_rows"), as_of=None)
        except LakehouseError as e:  # as app.cli.main says it
            from app.hints import error_line

            for n in notes:
                say(n, file=sys.stderr)
            say(error_line(e), file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            for n in notes:
                say(n, file=sys.stderr)
            say("cancelled", file=sys.stderr)
            return 130
        for n in notes:
            say(n, file=sys.stderr)
        try:
            text = _table(result)
            if text is None:  # rich renders it, as in the full CLI
                from app.output import print_result

                print_result(result)
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except BrokenPipeError:  # `lakehouse sql … | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if lh is not None:
            lh.close()


def _table(result: dict) -> str | None:
    """app.output.print_result's text, drawn without rich, in the plain case only: stdout
    not a terminal (so no colour, the width 160 or COLUMNS), UTF-8, and cells of ASCII (or
    ∅ … ⏎) that fit without folding or shrinking. None otherwise (rich then draws it).
    tests/test_fast_path.py compares the two on many tables."""
    columns = os.environ.get("COLUMNS")
    if (sys.stdout.isatty() or any(k in os.environ for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"))
            or not (sys.stdout.encoding or "").lower().replace("-", "").startswith("utf8")
            or columns is not None and not (columns.isdigit() and columns.isascii())):
        return None
    width = int(columns) if columns is not None else 160
    cols, rows = result["columns"], result["rows"]
    head = [_cell(c, 1_000) for c in cols]
    body = [[_cell(v, 60) for v in r] for r in rows]
    if not cols or None in head or any(None in r or len(r) != len(cols) for r in body):
        return None
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    if max(widths) > 58 or sum(widths) + 3 * len(widths) + 1 > width:
        return None

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    def cells(bar: str, texts: list[str]) -> str:
        return bar + bar.join(f" {t.ljust(w)} " for t, w in zip(texts, widths)) + bar + "\n"

    out = [line("┏", "━", "┳", "┓"), cells("┃", head), line("┡", "━", "╇", "┩")]
    out += [cells("│", r) for r in body]
    out.append(line("└", "─", "┴", "┘"))
    n, kept = result["row_count"], len(rows)  # the caption, as print_result words it
    caption = f"{n:,} row{'s' if n != 1 else ''}"
    if n > kept:
        caption = f"showing {kept:,} of {n:,} rows — use --format csv/json/parquet --output FILE for all"
    out.append(caption + "\n")
    return "".join(out)


def _cell(v, width: int) -> str | None:
    """app.output._cell's text for a plain value; None for one drawn otherwise."""
    from core.text import inert

    if v is None:
        return "∅"
    if not isinstance(v, (str, int, float)):  # bool is an int
        return None
    s = inert((v if isinstance(v, str) else str(v)).replace("\n", "⏎").replace("\t", " "))
    s = s if len(s) <= width else s[:width - 1] + "…"
    return s if all(c.isascii() and c.isprintable() or c in "∅…⏎" for c in s) else None

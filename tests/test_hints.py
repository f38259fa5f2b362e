"""An error's hint (core.errors.Hint): core says what to do next without naming any
frontend's commands; the CLI says it as its command, other frontends as plain text."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.hints import USAGE, error_line
from core.errors import Cancelled, Hint, NotFound, SqlError, hint_text

CORE = Path(__file__).resolve().parent.parent / "core"
# the one sentence core keeps with a command in it: a record, not an error — stored in
# `_errors` and reported by `resync`, where it names the explicit way to adopt a commit
STORED = {("storage/tables.py", "foreign_commit_message")}


def test_a_hint_is_the_cli_command_in_the_cli_and_plain_text_elsewhere(lh, cli):
    with pytest.raises(NotFound) as e:
        lh.promote("nope", 1)
    assert str(e.value) == "no index named 'nope'"  # the message names no command
    assert hint_text(e.value) == "list the indexes to see them, or build one"
    assert e.value.hint == Hint("list the indexes to see them, or build one", "embed",
                                {"dataset": "DATASET", "column": "COL", "index": "nope"})
    code, out, err = cli("index", "promote", "nope", "1")
    assert code == 1 and err.strip() == ("error: no index named 'nope' — list the indexes to see them, or build "
                                         "one with `lakehouse embed DATASET --column COL --index nope`")


def test_braced_words_name_the_operation():
    cancelled = Cancelled("the demo was cancelled", hint=Hint("run {the demo} again to continue from there", "demo"))
    assert error_line(cancelled) == "the demo was cancelled — run `lakehouse demo` again to continue from there"
    assert hint_text(cancelled) == "run the demo again to continue from there"
    again = NotFound("x", hint=Hint("run it as another profile, e.g. {as the default one}", None, {"profile": "default"}))
    assert error_line(again) == "error: x — run it as another profile, e.g. `lakehouse --profile default ...`"
    assert hint_text(NotFound("x")) is None and error_line(NotFound("x")) == "error: x"
    assert Hint.from_dict(again.hint.to_dict()) == again.hint


def test_the_hint_follows_the_sentence_before_its_context(lh, cli):
    with pytest.raises(SqlError) as e:
        lh.sql("SELECT * FROM s.t")
    assert "does not exist" in str(e.value) and "lakehouse" not in str(e.value)
    assert hint_text(e.value) == "the dataset list lists them"
    code, out, err = cli("sql", "SELECT * FROM s.t")
    assert code == 1 and err.strip().endswith('does not exist. — `lakehouse datasets` lists them')
    context = SqlError("Catalog Error: no x\nLINE 1: SELECT x\n              ^", hint=Hint("{it} lists them", "datasets"))
    assert error_line(context) == "error: Catalog Error: no x — `lakehouse datasets` lists them\nLINE 1: SELECT x\n              ^"


def test_every_hinted_operation_is_in_the_registry():
    import core.lakehouse  # noqa: F401 — fills the registry
    from core.api import OPERATIONS

    assert set(USAGE) | {"profile_save"} <= set(OPERATIONS)


def _messages(tree: ast.AST):
    """(function, text) of every string in a raise, a return or a Hint(...) of a module."""
    def strings(node):
        for n in ast.walk(node):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                yield n.value

    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for n in ast.walk(fn):
            if isinstance(n, ast.Raise) and n.exc is not None or isinstance(n, ast.Return) and n.value is not None:
                for s in strings(n.exc if isinstance(n, ast.Raise) else n.value):
                    yield fn.name, s
            elif isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Hint":
                for s in strings(n):
                    yield fn.name, s


def test_no_core_message_names_a_lakehouse_command():
    found = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE).as_posix()
        for fn, text in _messages(ast.parse(path.read_text())):
            if "`lakehouse" in text and (rel, fn) not in STORED:
                found.append(f"core/{rel} {fn}(): {text!r}")
    assert not found, "core messages name CLI commands (give the error a Hint instead):\n" + "\n".join(found)

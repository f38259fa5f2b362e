"""core/api.py: the facade's declared surface.

Every public method and property of `core.Lakehouse` is declared once in the registry;
the daemon serves exactly the remote ones, `retry_job` retries exactly the retryable
ones, streaming ones return readers, and docs/protocol.md's method table is the one the
registry generates.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from core import api
from core.lakehouse import Lakehouse

LIFECYCLE = {"open", "close", "new_engine", "engine", "tables", "interrupt_sql"}
RETRYABLE = {"ingest", "embed", "rebuild_index", "activate", "demo", "trial", "autotune",  # as before the registry, and trials
             "refresh"}  # an index refresh (issue 18)


def public_members(cls) -> dict[str, object]:
    """Public functions, properties, class- and static methods a class defines (or inherits
    from anything but object), as the class holds them."""
    out = {}
    for klass in reversed(cls.__mro__[:-1]):
        for name, value in vars(klass).items():
            if not name.startswith("_") and (
                    isinstance(value, (property, classmethod, staticmethod)) or inspect.isfunction(value)):
                out[name] = value
    return out


def undeclared(cls) -> list[str]:
    return sorted(n for n in public_members(cls) if n not in api.OPERATIONS)


def held_function(value):
    """The function behind a class attribute (a property's getter, a classmethod's function)."""
    if isinstance(value, property):
        return value.fget
    if isinstance(value, (classmethod, staticmethod)):
        return value.__func__
    return value


def test_every_public_facade_member_is_declared():
    missing = undeclared(Lakehouse)
    assert missing == [], (
        f"public members of core.Lakehouse without a declaration in core.api: {missing} — declare each "
        "with @operation(summary, remote=..., scope=..., ...) in core/lakehouse.py (remote=False if no "
        "client may call it), or make it private")
    members = public_members(Lakehouse)
    stale = sorted(set(api.OPERATIONS) - set(members))
    assert stale == [], f"declared in core.api but not public members of core.Lakehouse: {stale}"
    for name, op in api.OPERATIONS.items():
        # the registry holds what the class calls: @operation sits directly above the def
        assert held_function(members[name]) is op.func, name
        assert op.name == name and op.scope in api.SCOPES and op.summary.strip() == op.summary != ""


def test_an_undeclared_public_method_is_caught():
    class Grown(Lakehouse):
        def shiny(self):
            pass

        @property
        def gleam(self):
            return 1

        def _private(self):
            pass

    assert undeclared(Grown) == ["gleam", "shiny"]


def test_lifecycle_operations_are_not_remote_and_remote_ones_are_plain_methods():
    assert {n for n, op in api.OPERATIONS.items() if not op.remote} == LIFECYCLE
    members = public_members(Lakehouse)
    for name in api.remote_operations():
        assert inspect.isfunction(members[name]), f"{name}: a remote operation is a plain method"


def test_operations_are_frozen_and_declarations_are_checked():
    op = api.OPERATIONS["sql"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.remote = False
    with pytest.raises(ValueError, match="unknown scope rule 'everyone'"):
        api.operation("x", remote=True, scope="everyone")
    with pytest.raises(ValueError, match="one line"):
        api.operation("two\nlines", remote=True, scope="none")

    def sql(self):  # another class's `sql`: a second declaration of the name
        pass
    with pytest.raises(ValueError, match="declared twice"):
        api.operation("x", remote=True, scope="none")(sql)
    assert api.OPERATIONS["sql"] is op


def test_the_daemon_serves_exactly_the_remote_operations(monkeypatch):
    from app.daemon.methods import facade_methods

    served = facade_methods()
    assert list(served) == list(api.remote_operations()) == sorted(served)
    assert not LIFECYCLE & set(served)
    for name, sig in served.items():  # signatures come from the functions, without self
        full = inspect.signature(getattr(Lakehouse, name))
        assert list(sig.parameters) == list(full.parameters)[1:], name
    # the list is declared, not introspected: an entry decides, whatever the class has
    extra = dataclasses.replace(api.OPERATIONS["datasets"], name="datasets_again")
    monkeypatch.setitem(api.OPERATIONS, "datasets_again", extra)
    assert "datasets_again" in facade_methods()
    monkeypatch.setitem(api.OPERATIONS, "datasets_again", dataclasses.replace(extra, remote=False))
    assert "datasets_again" not in facade_methods()


def test_retry_job_retries_exactly_the_retryable_operations(lh, monkeypatch):
    from core.errors import LakehouseError

    declared = {n for n, op in api.OPERATIONS.items() if op.retryable}
    assert declared == RETRYABLE
    for name, op in api.OPERATIONS.items():  # a retryable one records its call (core.ops.jobs)
        assert hasattr(op.func, "__wrapped__") == op.retryable, name

    ids = iter(range(1000))

    def failed_job(method) -> str:
        job_id = f"failed{next(ids):06d}"
        lh.catalog.jobs.add(job_id, "ingest", "x", os.getpid(), json.dumps({"method": method, "kwargs": {}}))
        lh.catalog.jobs.finish(job_id, "failed", "it broke")
        return job_id

    for name in sorted(api.OPERATIONS) + ["_use", "__init__", "retry", ["ingest"], None]:
        job_id = failed_job(name)
        if isinstance(name, str) and name in RETRYABLE:
            calls = []
            monkeypatch.setattr(lh, name, lambda **kw: calls.append(kw) or "made again", raising=False)
            assert lh.retry_job(job_id) == "made again", name
            assert calls == [{"progress": None, "cancel": None}]
        else:
            with pytest.raises(LakehouseError, match="has no recorded call to retry"):
                lh.retry_job(job_id)
    assert not api.is_retryable("nope") and not api.is_retryable(["ingest"]) and api.is_retryable("demo")


# a call of each streaming operation: it returns a reader, not a materialised table
STREAM_CALLS = {"sql_stream": (("SELECT range AS n FROM range(5)",), {"batch_rows": 2})}


def test_streaming_operations_return_readers(lh):
    import pyarrow as pa

    assert {n for n, op in api.OPERATIONS.items() if op.streams} == set(STREAM_CALLS)
    for name, (args, kwargs) in STREAM_CALLS.items():
        rdr = getattr(lh, name)(*args, **kwargs)
        assert isinstance(rdr, pa.RecordBatchReader), name
        assert rdr.read_all().num_rows == 5
    assert isinstance(lh.sql("SELECT 1"), pa.Table)  # not streaming: a table


def _doc_table() -> str:
    doc = (REPO / "docs" / "protocol.md").read_text()
    start, end = "<!-- methods:start -->\n", "<!-- methods:end -->"
    assert doc.count(start) == 1 and doc.count(end) == 1, "docs/protocol.md needs the methods markers once"
    return doc[doc.index(start) + len(start):doc.index(end)]


def test_protocol_doc_method_table_is_the_generated_one():
    assert _doc_table() == api.markdown(), (
        "docs/protocol.md's method table differs from the registry — regenerate it: "
        "`.venv/bin/python -m core.api --markdown` and paste it between the methods markers")
    for name in api.remote_operations():
        assert f"| `{name}` |" in _doc_table()
    for name in LIFECYCLE:
        assert f"| `{name}` |" not in _doc_table()


def test_the_generator_prints_the_table():
    run = subprocess.run([sys.executable, "-m", "core.api", "--markdown"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == api.markdown()
    bad = subprocess.run([sys.executable, "-m", "core.api"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "usage: python -m core.api --markdown" in bad.stderr

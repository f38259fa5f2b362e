"""interrupt_sql through the daemon: RemoteLakehouse stops the calls one client thread
has in flight (JSON calls as well as streamed ones) with the protocol's `cancel`, and the
call raises what an interrupted query raises in-process. Another thread's call goes on,
and the daemon serves the next call."""

from __future__ import annotations

import threading
import time

import pytest
from test_daemon import ENDLESS, Served

from core.errors import SqlError

WAIT = 60  # generous: a stopped query ends within milliseconds, a missed one runs for hours


class Call(threading.Thread):
    """One facade call in a thread of its own; `done` is set once it returned or raised."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.done = fn, args, threading.Event()
        self.result = self.error = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 — the test inspects it
            self.error = e
        finally:
            self.done.set()


def interrupt(lh, call: Call) -> None:
    """Interrupt `call`'s thread until its call is in flight (as panes/explore.py does),
    then wait for it to end."""
    deadline = time.monotonic() + WAIT
    while not lh.interrupt_sql(thread=call.ident):
        assert not call.done.is_set(), (call.result, call.error)
        assert time.monotonic() < deadline, "the call never was in flight"
        call.done.wait(0.02)
    assert call.done.wait(WAIT), "interrupt_sql did not stop the call"


@pytest.fixture
def inprocess_error(home):
    """What an interrupted query raises in-process, to compare the remote one with."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[daemon]\nshutdown_grace_s = 1.0\n")
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        call = Call(lh.sql_rows, ENDLESS)
        call.start()
        interrupt(lh, call)
    return call.error


@pytest.fixture
def remote(home, inprocess_error):
    from app.daemon.proxy import RemoteLakehouse

    d = Served(home)
    rl = RemoteLakehouse(d.sock)
    # the first query builds the daemon's engine: two built at once by concurrent first
    # queries (core/profiles/scoped.py Reader.engine has no lock) leave one query on an
    # engine interrupt_sql does not reach — a race of its own, not the one tested here
    assert rl.sql_rows("SELECT 1 AS n")["rows"] == [[1]]
    yield rl
    rl.close()
    code, err = d.stop()
    assert code == 0, err


def test_interrupt_stops_one_threads_json_call_and_not_anothers(remote, inprocess_error):
    assert isinstance(inprocess_error, SqlError) and "interrupted" in str(inprocess_error).lower()
    a, b = Call(remote.sql_rows, ENDLESS), Call(remote.sql_rows, ENDLESS)
    a.start()
    b.start()
    interrupt(remote, a)
    assert type(a.error) is type(inprocess_error) and str(a.error) == str(inprocess_error)
    assert not b.done.wait(1.0), (b.result, b.error)  # the other thread's call still runs
    interrupt(remote, b)  # and stops when its own thread is named
    assert type(b.error) is SqlError and str(b.error) == str(inprocess_error)
    assert remote.sql_rows("SELECT 42 AS n")["rows"] == [[42]]  # the daemon still serves, on a reused connection
    assert not remote.interrupt_sql()  # nothing in flight any more


def test_interrupt_without_a_thread_stops_a_streamed_query(remote, inprocess_error):
    call = Call(lambda: remote.sql(ENDLESS))
    call.start()
    deadline = time.monotonic() + WAIT
    while not remote.interrupt_sql():
        assert not call.done.is_set() and time.monotonic() < deadline, (call.result, call.error)
        call.done.wait(0.02)
    assert call.done.wait(WAIT), "interrupt_sql did not stop the stream"
    assert type(call.error) is SqlError and str(call.error) == str(inprocess_error)
    assert remote.sql("SELECT 7 AS n").to_pylist() == [{"n": 7}]


def test_a_call_that_ends_first_is_not_touched_by_a_late_interrupt(remote):
    call = Call(remote.sql_rows, "SELECT 1 AS n")
    call.start()
    assert call.done.wait(WAIT)
    assert not remote.interrupt_sql(thread=call.ident)
    assert call.error is None and call.result["rows"] == [[1]]


def test_first_queries_at_once_share_one_engine(tmp_path):
    """A daemon's workers may ask for the engine together: each must get the same one, or a
    query would run where interrupt_sql cannot reach it."""
    import threading

    from core import Lakehouse

    with Lakehouse.open(home=tmp_path) as lh:
        got, start = [], threading.Barrier(8)

        def first() -> None:
            start.wait()
            got.append(lh.engine)
        threads = [threading.Thread(target=first) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(got) == 8 and len({id(e) for e in got}) == 1

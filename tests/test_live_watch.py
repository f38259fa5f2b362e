"""Watched folders (issue 18): real files, real watchfiles, the real runner — in this
process, in `lakehouse watch run`, and in a daemon. Every wait is on a condition with a
generous timeout; "not yet" is checked against a witness (a second file or watch that
settles at the same pace), never against the clock."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from test_daemon import Served
from test_daemon_hardening import until as wait_for

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def home_with(path: Path, settle: float = 0.4, extra: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "lakehouse.toml").write_text(f"[watch]\nsettle_s = {settle}\nrescan_s = 30.0\nrefresh_s = 1.0\n{extra}")
    return path


class Live:
    """A facade and a LiveRunner on one root; `events` hears what `watch run` would print."""

    def __init__(self, home: Path):
        from core import Lakehouse
        from core.live.runner import LiveRunner

        self.lh = Lakehouse.open(home=home)
        self.events: list[tuple[int, str, str]] = []
        self.runner = LiveRunner(self.lh.config, lambda *e: self.events.append(e))

    def start(self) -> "Live":
        assert self.runner.start()
        return self

    def close(self) -> None:
        self.runner.stop()
        self.lh.close()

    def rows(self, dataset: str) -> int:
        return self.lh.sql(f"SELECT count(*) AS n FROM {dataset}").column("n")[0].as_py() \
            if any(d.name == dataset for d in self.lh.datasets()) else 0

    def said(self, kind: str, text: str = "") -> list[str]:
        return [t for _, k, t in list(self.events) if k == kind and text in t]

    def watch(self, wid: int):
        return next(w for w in self.lh.watch_list() if w.id == wid)

    def errors(self, text: str) -> int:
        return sum(text in e.message for e in self.lh.errors(limit=1000))


@pytest.fixture
def live(tmp_path):
    lv = Live(home_with(tmp_path / "home"))
    yield lv
    lv.close()


@pytest.fixture
def inbox(tmp_path) -> Path:
    d = tmp_path / "inbox"
    d.mkdir()
    return d


def test_a_file_copied_in_pieces_is_ingested_only_once_complete_and_then_once(tmp_path, inbox):
    lv = Live(home_with(tmp_path / "home", settle=1.5)).start()
    try:
        lv.lh.watch_add(str(inbox), pattern="*.csv", name="sales")
        rows = [f"{i},item {i},{i * 1.5}\n" for i in range(200)]
        with open(inbox / "big.csv", "w") as f:  # a copy in progress: a piece every 0.1 s, far below settle
            f.write("id,item,price\n")
            for i in range(0, 200, 10):
                f.writelines(rows[i:i + 10])
                f.flush()
                assert lv.rows("sales") == 0 and not lv.said("ingested"), "ingested half a file"
                time.sleep(0.1)
        wait_for(lambda: lv.rows("sales") == 200, what="the complete file's rows")
        # a witness settles after it: by then a second ingest of big.csv would have happened too
        (inbox / "witness.csv").write_text("id,item,price\n999,w,1.0\n")
        wait_for(lambda: lv.rows("sales") == 201, what="the witness")
        assert len(lv.said("ingested", "big.csv")) == 1 and lv.watch(1).ingested == 2
        assert len(lv.lh.versions("sales")) == 2
    finally:
        lv.close()


def test_a_file_renamed_into_place_is_ingested_once(live, inbox, tmp_path):
    live.lh.watch_add(str(inbox), pattern="*.csv", name="moved")
    live.start()
    with open(inbox / "report.csv.part", "w") as f:  # a download in progress: its name is not picked up
        f.write("id,v\n")
        f.flush()
        outside = tmp_path / "elsewhere.csv"
        outside.write_text("id,v\n7,x\n8,y\n")
        os.rename(outside, inbox / "moved_in.csv")  # moved in from outside, complete
        wait_for(lambda: live.rows("moved") == 2, what="the file moved in")
        f.write("1,a\n2,b\n3,c\n")
    os.rename(inbox / "report.csv.part", inbox / "report.csv")  # the download done: renamed into place
    wait_for(lambda: live.rows("moved") == 5, what="the file renamed into place")
    (inbox / "witness.csv").write_text("id,v\n9,z\n")
    wait_for(lambda: live.rows("moved") == 6)
    assert len(live.said("ingested")) == 3 and not live.said("failed")


def test_files_already_there_are_ingested_identical_bytes_are_a_no_op_and_a_bad_file_does_not_stop_it(live, inbox):
    (inbox / "a.csv").write_text("id,v\n1,x\n2,y\n")
    (inbox / "notes.txt.part").write_text("half a download")  # never picked up
    w = live.lh.watch_add(str(inbox), pattern="*.csv")
    assert w.dataset == "inbox" and w.mode == "append" and w.state == "active"
    live.start()
    wait_for(lambda: live.rows("inbox") == 2, what="the file already there")
    shutil.copy(inbox / "a.csv", inbox / "a_copy.csv")  # the same bytes under another name
    (inbox / "bad.csv").write_text("id,v\n1,x,extra,fields\n\"unterminated\n")
    (inbox / "b.csv").write_text("id,v\n3,z\n")
    wait_for(lambda: live.rows("inbox") == 3, what="the good file after the bad one")
    wait_for(lambda: live.said("unchanged", "a_copy.csv") and live.said("failed", "bad.csv"), what="the outcomes")
    os.utime(inbox / "a.csv")  # touched, not changed
    (inbox / "c.csv").write_text("id,v\n4,w\n")
    wait_for(lambda: live.rows("inbox") == 4, what="the witness")
    wait_for(lambda: live.said("unchanged", "inbox/a.csv"), what="the touched file's no-op")
    assert live.rows("inbox") == 4 and live.errors("bad.csv") >= 1
    info = live.watch(1)
    assert info.state == "active" and info.ingested == 3


def test_subfolders_are_watched_hidden_ones_and_partial_downloads_are_not(live, inbox):
    (inbox / "2026" / "jan").mkdir(parents=True)
    (inbox / ".cache").mkdir()
    (inbox / "2026" / "jan" / "a.csv").write_text("id\n1\n")
    (inbox / ".cache" / "b.csv").write_text("id\n2\n")
    live.lh.watch_add(str(inbox), pattern="*.CSV", name="deep")  # the pattern is case-insensitive
    live.start()
    wait_for(lambda: live.rows("deep") == 1, what="the file in a subfolder")
    (inbox / "2026" / "feb").mkdir()  # a folder made after the watch started
    (inbox / ".cache" / "c.csv").write_text("id\n3\n")
    (inbox / "2026" / "feb" / "d.csv.part").write_text("id\n4\n")
    (inbox / "2026" / "feb" / "e.csv").write_text("id\n5\n")  # the witness
    wait_for(lambda: live.rows("deep") >= 2, what="the new subfolder's file")
    (inbox / "f.csv").write_text("id\n6\n")  # a second witness, written after all of them
    wait_for(lambda: 6 in live.lh.sql("SELECT id FROM deep").column("id").to_pylist())
    assert sorted(live.lh.sql("SELECT id FROM deep").column("id").to_pylist()) == [1, 5, 6]


def test_deleted_and_renamed_files_are_reported_and_their_rows_stay(live, inbox):
    (inbox / "one.csv").write_text("id\n1\n2\n")
    (inbox / "two.csv").write_text("id\n3\n")
    live.lh.watch_add(str(inbox), name="nums")
    live.start()
    wait_for(lambda: live.rows("nums") == 3)
    os.rename(inbox / "one.csv", inbox / "uno.csv")
    (inbox / "two.csv").unlink()
    wait_for(lambda: live.said("deleted", "two.csv"), what="the deletion report")
    wait_for(lambda: live.said("unchanged", "one.csv was renamed to"), what="the rename report")
    assert not live.said("deleted", "one.csv")
    assert "rows it added stay in nums" in live.said("deleted", "two.csv")[0]
    assert live.rows("nums") == 3
    info = live.watch(1)  # the deletion stays on record after later events
    assert (info.files, info.gone) == (1, 1)  # uno.csv (one.csv renamed), and two.csv gone


def test_unknown_types_symlink_loops_and_growing_files_are_reported_once_and_it_keeps_going(tmp_path, inbox):
    lv = Live(home_with(tmp_path / "home", settle=0.5)).start()  # the writer below pauses 0.02 s: 25x less
    try:
        (inbox / "photo.jpg").write_bytes(b"\xff\xd8\xff")
        os.symlink(inbox, inbox / "loop")  # a folder that leads back into the watched one
        os.symlink(inbox / "x.csv", inbox / "y.csv")
        os.symlink(inbox / "y.csv", inbox / "x.csv")  # a file symlink loop
        lv.lh.watch_add(str(inbox), name="things")
        wait_for(lambda: lv.said("type", "photo.jpg") and lv.said("symlink", "loop") and lv.said("loop", "x.csv"),
                 what="the three reports")
        stop = threading.Event()

        def grow():
            with open(inbox / "log.csv", "w") as f:
                f.write("n\n")
                i = 0
                while not stop.is_set():
                    f.write(f"{i}\n")
                    f.flush()
                    i += 1
                    time.sleep(0.02)
        t = threading.Thread(target=grow)
        t.start()
        try:
            wait_for(lambda: lv.said("growing", "log.csv"), what="the still-growing report")
            assert lv.rows("things") == 0
        finally:
            stop.set()
            t.join()
        wait_for(lambda: lv.rows("things") > 10, what="the grown file, once it stopped")
        (inbox / "late.csv").write_text("n\n-1\n")
        wait_for(lambda: lv.said("ingested", "late.csv"), what="a later file")
        for kind, text in (("type", "photo.jpg"), ("symlink", "inbox/loop is"), ("loop", "x.csv is"),
                           ("growing", "log.csv")):
            assert len(lv.said(kind, text)) == 1, kind
            assert lv.errors(text) == 1, kind
    finally:
        lv.close()


def test_a_folder_that_disappears_is_an_error_once_and_comes_back(live, inbox, tmp_path):
    live.lh.watch_add(str(inbox), pattern="*.csv", name="back")
    live.start()
    (inbox / "a.csv").write_text("id\n1\n")
    wait_for(lambda: live.rows("back") == 1)
    shutil.rmtree(inbox)
    wait_for(lambda: live.watch(1).state == "error", what="the error state")
    assert "no longer exists" in live.watch(1).last_error
    inbox.mkdir()
    wait_for(lambda: live.watch(1).state == "active", what="the folder coming back")
    (inbox / "b.csv").write_text("id\n2\n")
    wait_for(lambda: live.rows("back") == 2)
    assert live.errors("no longer exists") == 1 and len(live.said("folder", "watching it again")) == 1, live.events


def test_bad_input_at_add_is_one_sentence(live, inbox, tmp_path):
    from core.errors import IngestError, NameError_, NotFound

    cases = [((str(tmp_path / "nope"),), {}, NotFound, "does not exist"),
             ((str(inbox / "f.csv"),), {}, NotFound, "is not a folder"),
             ((str(inbox),), {"pattern": "a/*.csv"}, IngestError, "not a glob"),
             ((str(inbox),), {"pattern": "[abc"}, IngestError, "not a glob"),
             ((str(inbox),), {"pattern": ""}, IngestError, "not a glob"),
             ((str(inbox),), {"mode": "create"}, IngestError, "unknown mode"),
             ((str(inbox),), {"mode": "upsert"}, IngestError, "needs a key"),
             ((str(inbox),), {"schema_change": "accept"}, IngestError, "refuse or additive"),
             ((str(inbox),), {"name": "x", "name_from_file": True}, IngestError, "not both"),
             ((str(inbox),), {"name": "Bad Name"}, NameError_, "invalid"),
             ((str(live.lh.root),), {}, IngestError, "storage root"),
             ((str(live.lh.root.parent),), {}, IngestError, "storage root")]
    (inbox / "f.csv").write_text("a\n1\n")
    for args, kw, cls, text in cases:
        with pytest.raises(cls) as e:
            live.lh.watch_add(*args, **kw)
        assert text in str(e.value) and "\n" not in str(e.value), (kw, str(e.value))
    live.lh.watch_add(str(inbox))
    with pytest.raises(IngestError, match="watched already"):
        live.lh.watch_add(str(inbox))
    for fn in (live.lh.watch_remove, live.lh.watch_pause, live.lh.watch_resume):
        with pytest.raises(NotFound, match="no watch"):
            fn(99)
    assert live.lh.watch_list()[0].files == 0  # nothing runs here: nothing was ingested


def test_pause_resume_and_remove(live, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    wa = live.lh.watch_add(str(a), name="ds_a")
    wb = live.lh.watch_add(str(b), name="ds_b")
    assert live.lh.watch_pause(wb.id).state == "paused"
    live.start()
    (b / "1.csv").write_text("id\n1\n")
    (a / "1.csv").write_text("id\n1\n")  # the witness: the same pace, an active watch
    wait_for(lambda: live.rows("ds_a") == 1)
    assert live.rows("ds_b") == 0
    assert live.lh.watch_resume(wb.id).state == "active"
    wait_for(lambda: live.rows("ds_b") == 1, what="what arrived while paused")
    live.lh.watch_remove(wa.id)
    (a / "2.csv").write_text("id\n2\n")
    (b / "2.csv").write_text("id\n2\n")  # the witness
    wait_for(lambda: live.rows("ds_b") == 2)
    assert live.rows("ds_a") == 1 and [w.id for w in live.lh.watch_list()] == [wb.id]


def test_name_from_file_modes_and_the_schema_change_policy(live, tmp_path):
    a, b = tmp_path / "stems", tmp_path / "keyed"
    a.mkdir()
    b.mkdir()
    live.lh.watch_add(str(a), name_from_file=True, pattern="*.csv")
    live.lh.watch_add(str(b), name="people", mode="upsert", key="id", schema_change="additive")
    live.start()
    (a / "Red Apples.csv").write_text("id,n\n1,2\n")
    (a / "pears.csv").write_text("id,n\n1,2\n")
    (b / "p1.csv").write_text("id,name\n1,ann\n2,bob\n")
    wait_for(lambda: live.rows("red_apples") == 1 and live.rows("pears") == 1 and live.rows("people") == 2)
    (b / "p2.csv").write_text("id,name,city\n2,bobby,Oslo\n3,cy,Rome\n")  # an added column: taken
    wait_for(lambda: live.rows("people") == 3)
    got = live.lh.sql("SELECT name, city FROM people ORDER BY id").to_pylist()
    assert got == [{"name": "ann", "city": None}, {"name": "bobby", "city": "Oslo"}, {"name": "cy", "city": "Rome"}]
    (a / "pears2.csv").write_text("id\n5\n")
    (a / "pears2.csv").rename(a / "zz.csv")
    wait_for(lambda: live.rows("zz") == 1)
    # refuse (the default): a file whose schema differs fails with the diff, the watch goes on
    c = tmp_path / "strict"
    c.mkdir()
    live.lh.watch_add(str(c), name="strict")
    (c / "1.csv").write_text("id,n\n1,2\n")
    wait_for(lambda: live.rows("strict") == 1)
    (c / "2.csv").write_text("id,n,extra\n2,3,x\n")
    wait_for(lambda: live.said("failed", "2.csv") or live.said("failed", "strict"), what="the refusal")
    (c / "3.csv").write_text("id,n\n3,4\n")
    wait_for(lambda: live.rows("strict") == 2)
    refusal = live.said("failed", "2.csv")[0]
    assert "extra" in refusal and live.errors("extra") == 1 and live.watch(3).state == "active"


def test_an_index_over_the_watched_dataset_goes_live_with_the_new_rows(live, inbox):
    live.lh.watch_add(str(inbox), name="notes", mode="upsert", key="id")
    live.start()
    (inbox / "1.csv").write_text("id,body\n1,kubernetes cluster upgrade\n2,quarterly tax filing\n")
    wait_for(lambda: live.rows("notes") == 2)
    live.lh.embed("notes", "body", index="notes_body", key="id", embedder="hashing")
    (inbox / "2.csv").write_text("id,body\n3,sourdough bread starter recipe\n")
    wait_for(lambda: live.rows("notes") == 3)
    wait_for(lambda: not live.lh.index("notes_body").stale and live.lh.index("notes_body").active_gen >= 2,
             what="the refreshed generation")
    hits = live.lh.search("notes_body", "sourdough bread starter", 1).hits
    assert hits and hits[0].row_key == "3"


def test_only_one_process_runs_the_watches(live, inbox, tmp_path):
    live.lh.watch_add(str(inbox), name="one")
    live.start()
    env = {**os.environ, "LAKEHOUSE_HOME": str(live.lh.root), "COLUMNS": "200"}
    p = subprocess.run([LAKEHOUSE, "watch", "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and f"pid {os.getpid()} runs the watches" in p.stderr, p.stderr
    p = subprocess.run([LAKEHOUSE, "watch", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and f"run by pid {os.getpid()}" in p.stderr
    assert live.lh.watch_runner()["pid"] == os.getpid()
    live.runner.stop()
    assert live.lh.watch_runner()["pid"] is None
    (inbox / "a.csv").write_text("id\n1\n")
    p = subprocess.run([LAKEHOUSE, "watch", "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "watch 1 ingested: a.csv -> one: 1 row" in p.stdout, p.stderr
    assert live.rows("one") == 1


def test_watch_run_stops_on_sigterm_and_cancels_an_ingest_in_flight(tmp_path, inbox):
    home = home_with(tmp_path / "home", settle=0.2)
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_TEST_PAUSE_AT": "ingest:write"}
    subprocess.run([LAKEHOUSE, "watch", "add", str(inbox), "--name", "held"], env=env, check=True, timeout=120)
    (inbox / "a.csv").write_text("id\n1\n")
    proc = subprocess.Popen([LAKEHOUSE, "watch", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        from core import Lakehouse

        with Lakehouse.open(home=home) as lh:
            wait_for(lambda: any(j.status == "running" and "test pause" in j.message for j in lh.jobs(5)),
                     what="the ingest paused mid-write")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0 and "Traceback" not in err, err
            assert [j.status for j in lh.jobs(5) if j.kind == "ingest"] == ["cancelled"]
            assert not any(d.name == "held" for d in lh.datasets())  # nothing half-written
    finally:
        if proc.poll() is None:
            proc.kill()
    env.pop("LAKEHOUSE_TEST_PAUSE_AT")
    p = subprocess.run([LAKEHOUSE, "watch", "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "ingested: a.csv -> held: 1 row" in p.stdout, p.stderr


def test_watches_run_in_the_daemon(tmp_path, inbox):
    home = home_with(tmp_path / "home", settle=0.3)
    d = Served(home)
    try:
        code, out, err = d.cli("watch", "add", str(inbox), "--pattern", "*.csv", "--name", "served")
        assert code == 0 and "watch 1 added" in out, err
        (inbox / "a.csv").write_text("id,v\n1,x\n2,y\n")
        wait_for(lambda: d.cli("sql", "SELECT count(*) AS n FROM served", "--format", "csv")[1].split() == ["n", "2"],
                 what="the daemon's ingest")
        code, out, err = d.cli("watch", "list")
        assert code == 0 and "a.csv -> served: 2 rows" in out and f"run by pid {d.proc.pid}" in err, (out, err)
        code, _, err = d.cli("watch", "run")
        assert code == 1 and "the daemon runs this root's watches itself" in err
        code, _, err = d.cli("watch", "run", remote=False)  # beside the daemon: it holds them
        assert code == 1 and f"pid {d.proc.pid} runs the watches" in err
        assert d.cli("watch", "pause", "1")[0] == 0
        (inbox / "b.csv").write_text("id,v\n3,z\n")
        assert d.cli("watch", "resume", "1")[0] == 0
        wait_for(lambda: d.cli("sql", "SELECT count(*) AS n FROM served", "--format", "csv")[1].split() == ["n", "3"])
    finally:
        code, err = d.stop()
    assert code == 0 and "Traceback" not in err, err


def test_a_user_cancelling_a_watched_ingest_and_removing_its_watch_does_not_stop_the_runner(live, tmp_path,
                                                                                              monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    wa = live.lh.watch_add(str(a), name="ds_a")
    monkeypatch.setenv("LAKEHOUSE_TEST_PAUSE_AT", "ingest:write")
    live.start()
    (a / "1.csv").write_text("id\n1\n")
    job = wait_for(lambda: next((j for j in live.lh.jobs(5) if j.status == "running" and "test pause" in j.message),
                                None), what="the watched ingest paused mid-write")
    live.lh.watch_remove(wa.id)
    assert live.lh.cancel_job(job.id)
    wait_for(lambda: live.said("cancelled", "1.csv"), what="the cancel's report")
    monkeypatch.delenv("LAKEHOUSE_TEST_PAUSE_AT")
    live.lh.watch_add(str(b), name="ds_b")
    (b / "1.csv").write_text("id\n1\n")
    wait_for(lambda: live.rows("ds_b") == 1, what="the runner going on")
    assert live.runner.running and live.rows("ds_a") == 0 and "is tried again when it changes" in \
        live.said("cancelled")[0]


def test_a_daemon_stopped_mid_ingest_cancels_it_and_leaves_nothing(tmp_path, inbox):
    from core import Lakehouse

    home = home_with(tmp_path / "home", settle=0.2)
    with Lakehouse.open(home=home) as lh:
        lh.watch_add(str(inbox), name="held")
    d = Served(home, {"LAKEHOUSE_TEST_PAUSE_AT": "ingest:write"})
    try:
        (inbox / "a.csv").write_text("id\n1\n")
        with Lakehouse.open(home=home) as lh:
            wait_for(lambda: any(j.status == "running" and "test pause" in j.message for j in lh.jobs(5)),
                     what="the daemon's ingest paused mid-write")
    finally:
        code, err = d.stop()
    assert code == 0 and "Traceback" not in err, err
    with Lakehouse.open(home=home) as lh:
        assert [j.status for j in lh.jobs(5) if j.kind == "ingest"] == ["cancelled"]
        assert not any(ds.name == "held" for ds in lh.datasets()) and lh.watch_runner()["pid"] is None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="drops to an unprivileged user with setpriv (root only sees no permission errors)")
def test_permission_denied_on_a_file_and_on_the_folder():
    base = Path(tempfile.mkdtemp(prefix="lh-perm-"))
    try:
        os.chmod(base, 0o777)
        home, inbox = base / "home", base / "inbox"
        home_with(home, settle=0.2)
        inbox.mkdir()
        (inbox / "ok.csv").write_text("id\n1\n")
        (inbox / "secret.csv").write_text("id\n2\n")
        os.chmod(inbox / "secret.csv", 0o000)
        for p in (home, inbox, home / "lakehouse.toml", inbox / "ok.csv"):
            os.chown(p, 65534, 65534)
        env = {**os.environ, "LAKEHOUSE_HOME": str(home), "HOME": str(base)}
        asuser = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", LAKEHOUSE]
        subprocess.run(asuser + ["watch", "add", str(inbox), "--name", "perm"], env=env, check=True, timeout=120)
        p = subprocess.run(asuser + ["watch", "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "ingested: ok.csv -> perm: 1 row" in p.stdout and "secret.csv cannot be read (Permission denied)" \
            in p.stdout, p.stdout
        os.chmod(inbox, 0o000)
        p = subprocess.run(asuser + ["watch", "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "cannot be read (permission denied)" in p.stdout, (p.stdout, p.stderr)
        p = subprocess.run(asuser + ["watch", "list"], env=env, capture_output=True, text=True, timeout=120)
        assert "error" in p.stdout and "Traceback" not in p.stderr
    finally:
        for root, dirs, files in os.walk(base):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o700, follow_symlinks=False) if not os.path.islink(
                    os.path.join(root, n)) else None
        os.chmod(base / "inbox", 0o700)
        shutil.rmtree(base, ignore_errors=True)


def test_an_in_process_tui_runs_the_watches_and_its_system_pane_lists_them(tmp_path, inbox):
    import asyncio

    from test_tui import opened, until

    from core import Lakehouse

    home = home_with(tmp_path / "home", settle=0.2)
    with Lakehouse.open(home=home) as lh:
        lh.watch_add(str(inbox), pattern="*.csv", name="tui_drops")

    async def go():
        async with opened(home) as (app, pilot):
            await until(pilot, lambda: app.live is not None and app.live.running)
            await pilot.press("f6")
            (inbox / "a.csv").write_text("id\n1\n2\n")
            live = app.query_one("#system-live")
            await until(pilot, lambda: "a.csv -> tui_drops: 2 rows" in str(live.render()), timeout=60)
            assert "run by this TUI" in str(app.query_one("#system-live-title").render())
            # beside it, another process runs nothing and says who does
            p = subprocess.run([LAKEHOUSE, "watch", "run", "--once"], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "LAKEHOUSE_HOME": str(home)})
            assert p.returncode == 1 and f"pid {os.getpid()} runs the watches" in p.stderr
            runner = app.live
        assert not runner.running  # quitting stopped it
    asyncio.run(go())
    with Lakehouse.open(home=home) as lh:
        assert lh.watch_runner()["pid"] is None


def test_a_tui_working_as_a_restricted_profile_leaves_the_watches_alone(tmp_path, inbox):
    """They would ingest only into its own datasets: an unrestricted process runs them."""
    import asyncio

    from test_tui import until

    from app.tui.app import LakehouseApp
    from core import Lakehouse

    home = home_with(tmp_path / "home", settle=0.2, extra='[profiles.viewer]\ndatasets = ["pub"]\n')
    with Lakehouse.open(home=home) as lh:
        lh.watch_add(str(inbox), pattern="*.csv", name="drops")

    async def go():
        app = LakehouseApp(home=home, profile="viewer")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await pilot.pause(0.5)
            assert app.live is None
    asyncio.run(go())
    with Lakehouse.open(home=home) as lh:
        assert lh.watch_runner()["pid"] is None


def test_a_fifo_in_the_folder_is_reported_once_and_never_read(live, inbox):
    os.mkfifo(inbox / "pipe.csv")  # opening it to read would block the runner for good
    (inbox / "a.csv").write_text("id\n1\n")
    live.lh.watch_add(str(inbox), pattern="*.csv", name="drops")
    live.start()
    wait_for(lambda: live.rows("drops") == 1, what="the regular file beside the FIFO")
    wait_for(lambda: live.errors("pipe.csv is not a regular file") == 1, what="the FIFO reported")
    (inbox / "b.csv").write_text("id\n2\n")
    wait_for(lambda: live.rows("drops") == 2, what="the runner still going")
    assert live.errors("pipe.csv") == 1  # said once

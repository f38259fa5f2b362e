"""Load (issue 14): 2,000 TCP connections that never authenticate — half silent, half
dribbling one byte every few seconds, each reopened a moment after the daemon closes it —
while 8 real clients keep querying. The clients keep at least 90% of their unloaded
throughput, the daemon's memory and log stay bounded, the Unix socket stays open to
everyone throughout, and afterwards every client works.

Throughput is a ratio of the same clients' request counts in alternating unloaded and
loaded windows (several rounds, medians), never a wall-clock limit. The flood runs in a
process of its own, so it competes with the daemon for the CPU as a real one would, and
never for the clients' interpreter."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from test_daemon import LAKEHOUSE, Client, _answers, _free_port
from vector_data import write_profiles

FLOOD = r"""
import asyncio, random, resource, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
opened = 0

async def one(i):
    global opened
    await asyncio.sleep(random.random())  # spread the first wave over a second
    while True:
        try:
            r, w = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(1 + 2 * random.random())
            continue
        opened += 1
        try:
            while True:
                if i % 2:  # dribble: one byte (never a whole line) every ~3 s
                    w.write(b"{")
                try:
                    if not await asyncio.wait_for(r.read(4096), 2.5 + random.random()):
                        break  # closed by the daemon
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        finally:
            w.close()
        await asyncio.sleep(1 + 2 * random.random())  # and comes back

async def main():
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    while True:
        await asyncio.sleep(0.5)
        print(opened, flush=True)

asyncio.run(main())
"""

QUERIES = ["SELECT count(*) FROM people WHERE years > {i}", "SELECT state, count(*) FROM people GROUP BY 1 ORDER BY 1",
           "SELECT max(years) - {i} FROM people"]


@pytest.fixture
def people(home, data):
    home.mkdir(parents=True, exist_ok=True)
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        lh.ingest(write_profiles(data / "people.csv", 200), key="person_id")
    return home


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu(daemon_pid: int) -> tuple[int, int]:
    """(jiffies the whole machine spent busy, jiffies this test and the daemon spent)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(map(int, fields)) - int(fields[3]) - int(fields[4])  # all but idle and iowait
    ours = 0
    for pid in ("self", str(daemon_pid)):
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ours += int(stat[11]) + int(stat[12])  # utime, stime
    return busy, ours


def _daemon_cpu(pid: int) -> float:
    """CPU seconds the daemon has used."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


class Clients:
    """8 TCP clients, each on its own authenticated connection, each in its own thread,
    sending one query after another and counting answers."""

    def __init__(self, port: int, token: str, n: int = 8):
        self.count = [0] * n
        self.errors: list = []
        self.stop = threading.Event()
        self.conns = []
        for _ in range(n):
            c = Client(("127.0.0.1", port))
            assert c.call("auth", {"token": token})["result"] == {"ok": True}
            self.conns.append(c)
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, i: int) -> None:
        c, j = self.conns[i], 0
        try:
            while not self.stop.is_set():
                q = QUERIES[j % len(QUERIES)].format(i=j % 50)
                r = c.call("sql_rows", {"text": q})
                if "result" not in r:
                    self.errors.append(r)
                    return
                self.count[i] += 1
                j += 1
        except Exception as e:  # noqa: BLE001 - asserted below
            self.errors.append(repr(e))

    def window(self, seconds: float, sample, until=lambda samples: True) -> tuple[float, list]:
        """Answers per second across all clients over at least the next `seconds` — longer,
        up to a minute, until `until(samples)` holds — and what `sample()` said every
        quarter second meanwhile."""
        samples = []
        before, t0 = sum(self.count), time.perf_counter()
        while time.perf_counter() - t0 < seconds or not until(samples):
            assert time.perf_counter() - t0 < 60, samples[-3:]
            time.sleep(0.25)
            samples.append(sample())
        return (sum(self.count) - before) / (time.perf_counter() - t0), samples

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)
        for c in self.conns:
            c.close()


@pytest.mark.alone  # a throughput ratio: no other test may share the machine meanwhile
def test_two_thousand_idle_connections_do_not_starve_eight_clients(people):
    _raise_nofile()
    (people / "lakehouse.toml").write_text("[daemon]\nshutdown_grace_s = 2.0\nlog_max_mb = 1.0\nlog_backups = 2\n")
    port = _free_port()
    sock = str(people.parent / "d.sock")
    env = {**os.environ, "LAKEHOUSE_HOME": str(people)}
    log = people / "daemon.log"
    with open(log, "ab") as out:  # as `serve --detach` starts it: its output is daemon.log
        daemon = subprocess.Popen([LAKEHOUSE, "serve", "--socket", sock, "--tcp", f"127.0.0.1:{port}"], env=env,
                                  stdout=out, stderr=out)
    flood = None
    clients = None
    try:
        deadline = time.monotonic() + 60
        while not _answers(sock):
            assert daemon.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        token = (people / "daemon.token").read_text().strip()
        clients = Clients(port, token)
        time.sleep(1.0)  # warm: the engine, the views, the caches
        rss0 = _rss_mb(daemon.pid)
        unloaded, loaded, rss, refused_in_window, held = [], [], [], [], []
        u = Client(sock)  # the Unix socket: status during every window, and a new client during each flood
        others = []  # cores' worth of CPU that other processes took during the unloaded windows
        per_cpu = {"unloaded": [], "loaded": []}  # answers per CPU second of the daemon, per window

        def measured(kind: str, **window) -> tuple[float, list]:
            d0, t0 = _daemon_cpu(daemon.pid), time.monotonic()
            rate, samples = clients.window(2.0, lambda: u.call("status")["result"], **window)
            spent = _daemon_cpu(daemon.pid) - d0
            per_cpu[kind].append(rate * (time.monotonic() - t0) / max(spent, 0.01))
            return rate, samples

        for _round in range(3):  # unloaded, loaded, unloaded, ... unloaded: each loaded window between two
            cpu0, t0 = _cpu(daemon.pid), time.monotonic()
            rate, _ = measured("unloaded")
            cpu1 = _cpu(daemon.pid)
            others.append(((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0))
            unloaded.append(rate)
            # the flood runs at the lowest CPU priority: on this one machine its own connecting
            # would otherwise take CPU from the daemon and the clients, which a flood from
            # elsewhere does not (the daemon itself spends ~1% of a core on it)
            flood = subprocess.Popen([sys.executable, "-c", FLOOD, "127.0.0.1", str(port), "2000"],
                                     stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.nice(19))
            while int(flood.stdout.readline() or 0) < 2000:  # every flood connection has been opened once
                assert flood.poll() is None
            before = u.call("status")["result"]
            # the window lasts until the flood has shown itself in it — unauthenticated
            # connections held up to the cap, and more refused: on a busy machine a flood
            # at the lowest priority may need longer than 2 s to come back
            rate, samples = measured("loaded", until=lambda xs: max(x["unauthenticated"] for x in xs) >= 32
                                     and xs[-1]["refused"] > before["refused"])
            loaded.append(rate)
            fresh = Client(sock)
            assert fresh.call("sql_rows", {"text": "SELECT count(*) FROM people"})["result"]["rows"] == [[200]]
            fresh.close()
            st = samples[-1]
            # the flood was there: unauthenticated connections held (up to the cap), more refused
            held.append(max(x["unauthenticated"] for x in samples))
            refused_in_window.append(st["refused"] - before["refused"])
            assert held[-1] >= 32 and refused_in_window[-1] > 0, (before, samples)
            rss.append(_rss_mb(daemon.pid))
            flood.send_signal(signal.SIGKILL)
            flood.wait(60)
            flood = None
            time.sleep(0.5)
        unloaded.append(measured("unloaded")[0])
        u.close()
        assert clients.errors == []
        # each loaded window against the mean of the unloaded ones on either side (a drift of
        # the machine's load cancels out), the median of those ratios; and the machine's own
        # window-to-window noise, from the unloaded windows alone
        ratios = [x / ((a + b) / 2) for x, a, b in zip(loaded, unloaded, unloaded[1:])]
        ratio = statistics.median(ratios)
        mid = statistics.median(unloaded)
        noise = statistics.median(abs(x - mid) / mid for x in unloaded)
        # 90% of the unloaded throughput; on a machine whose own noise exceeds 5% the bar is
        # lowered by the excess (never below 80%), as no measurement here can resolve finer.
        # On a machine where other processes already take over half a core, no core is left
        # idle for the daemon's accepting and refusing, and how much CPU the daemon and the
        # clients get at all varies with the other load: there the claim is measured per CPU
        # second of the daemon — the flood may cost it at most a fifth of its answers.
        busy = statistics.median(others)
        u_eff, l_eff = per_cpu["unloaded"], per_cpu["loaded"]
        eff = statistics.median(x / ((a + b) / 2) for x, a, b in zip(l_eff, u_eff, u_eff[1:]))
        bar = 0.8 if busy > 0.5 else max(0.8, 0.9 - max(0.0, noise - 0.05))
        measure = eff if busy > 0.5 else ratio
        report = (f"unloaded {[round(x) for x in unloaded]} req/s, loaded {[round(x) for x in loaded]} req/s, "
                  f"median loaded/unloaded ratio {ratio:.3f} (per round {[round(r, 3) for r in ratios]}; "
                  f"machine noise {noise:.1%}, other processes {busy:.2f} cores, answers per daemon CPU second loaded/unloaded "
                  f"{eff:.3f}, bar {bar:.2f} on {'that' if busy > 0.5 else 'the throughput ratio'}); daemon RSS {rss0:.0f} MB -> max {max(rss):.0f} MB; "
                  f"unauthenticated held (max per loaded window) {held}, refused per loaded window "
                  f"{refused_in_window}, {st['refused']} in all")
        print(report)
        Path(os.environ.get("LAKEHOUSE_LOAD_REPORT", os.devnull)).write_text(report + "\n")
        assert st["refused"] > 0  # the caps did their work
        assert measure >= bar, report
        assert max(rss) - rss0 < 150, report  # bounded: no per-connection buffers pile up
        logs = [p for p in people.iterdir() if p.name.startswith("daemon.log")]
        assert sum(p.stat().st_size for p in logs) < 200_000, [p.stat().st_size for p in logs]
        clients.close()
        clients = None
        # afterwards every client works: new TCP connections, the CLI, the Unix socket
        for _ in range(8):
            c = Client(("127.0.0.1", port))
            assert c.call("auth", {"token": token})["result"] == {"ok": True}
            assert c.call("sql_rows", {"text": "SELECT count(*) FROM people"})["result"]["rows"] == [[200]]
            c.close()
        p = subprocess.run([LAKEHOUSE, "--remote", f"127.0.0.1:{port}", "sql", "SELECT 7 AS seven", "--format", "json"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0 and json.loads(p.stdout) == [{"seven": 7}], p.stderr
    finally:
        if clients is not None:
            clients.close()
        if flood is not None:
            flood.kill()
            flood.wait(60)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, log.read_text()[-3000:]
    assert not os.path.exists(sock) and not (people / "daemon.json").exists()
    assert "Traceback" not in log.read_text()

"""What a trial measures: recall@k and per-query latency through our own search path
(HnswIndex.search), the process's peak memory during a build, and the machine."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def point(index, queries: np.ndarray, truth: np.ndarray, ef: int) -> dict:
    """recall@k and p50/p95/p99 latency (µs) of `index` at one ef_search: each query
    searched alone and timed, as a search call makes it."""
    k = truth.shape[1]
    found = np.zeros(len(queries))
    times = np.zeros(len(queries))
    for i, q in enumerate(queries):
        t0 = time.perf_counter_ns()
        labels, _ = index.search(q[None, :], k, ef=ef)
        times[i] = (time.perf_counter_ns() - t0) / 1000
        found[i] = len(np.intersect1d(labels[0], truth[i], assume_unique=True))
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"ef_search": ef, "recall": round(float(found.sum() / truth.size), 6),
            "p50_us": round(float(p50), 2), "p95_us": round(float(p95), 2), "p99_us": round(float(p99), 2)}


class PeakMemory:
    """The process's resident-set high-water mark during a block, minus its resident set
    before it: Linux's VmHWM from /proc/self/status, reset at the start by writing 5 to
    /proc/self/clear_refs. Where that reset is not possible the figure is the rise of the
    old high-water mark (resource.getrusage's ru_maxrss), 0 when the process had been
    bigger before."""

    def __enter__(self) -> "PeakMemory":
        self.reset = _reset_hwm()
        self.before = _status_kb("VmRSS") if self.reset else _maxrss_kb()
        self.bytes = 0
        return self

    def __exit__(self, *exc) -> None:
        after = _status_kb("VmHWM") if self.reset else _maxrss_kb()
        self.bytes = max(0, after - self.before) * 1024


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def _status_kb(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def machine() -> str:
    """The CPU model and core count, e.g. "AMD EPYC 7B13 · 2 cores"."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} · {os.cpu_count() or 1} cores"

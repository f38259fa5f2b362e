"""Shared fixtures: every test gets its own storage root (LAKEHOUSE_HOME)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("LAKEHOUSE_HOME", str(h))
    # never reach a real Ollama by accident: a closed port unless a test starts the stub
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    return h


@pytest.fixture
def ollama(home, monkeypatch):
    """The Ollama API stand-in (tests/ollama_stub.py), with OLLAMA_HOST pointing at it."""
    from ollama_stub import OllamaStub

    with OllamaStub() as stub:
        monkeypatch.setenv("OLLAMA_HOST", stub.url)
        yield stub


@pytest.fixture
def lh(home):
    from core import Lakehouse

    with Lakehouse.open(home=home) as lake:
        yield lake


@pytest.fixture
def data(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def cli(home):
    """Run the real `lakehouse` console script in a subprocess: (code, stdout, stderr)."""
    exe = Path(sys.executable).parent / "lakehouse"

    def run(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 120):
        e = {**os.environ, "LAKEHOUSE_HOME": str(home), "COLUMNS": "200", **(env or {})}
        p = subprocess.run([str(exe), *args], capture_output=True, text=True, input=input,
                           env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    return run


@pytest.fixture(scope="session")
def pg():
    """A private PostgreSQL cluster for the session (tests/pgserver.py; one per xdist
    worker). Skipped when no server binaries are installed — unless
    LAKEHOUSE_REQUIRE_POSTGRES=1 (CI), where that is a failure."""
    from pgserver import PgServer, binaries

    if binaries() is None:
        why = ("PostgreSQL server binaries (initdb, pg_ctl) are not installed — "
               "apt-get install postgresql, or see .ci/run")
        if os.environ.get("LAKEHOUSE_REQUIRE_POSTGRES") == "1":
            pytest.fail(why + " (LAKEHOUSE_REQUIRE_POSTGRES=1)")
        pytest.skip(why)
    with PgServer() as server:
        yield server


def pytest_collection_modifyitems(items) -> None:
    """The longest tests (marked `long`) first: the parallel workers take tests in order, so
    one of them started last would leave the other workers idle while it runs."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # a stable sort

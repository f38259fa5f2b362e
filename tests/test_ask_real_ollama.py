"""The NL->SQL round trip against a real Ollama server, when one answers at OLLAMA_HOST
with the configured chat model; skipped otherwise (as on CI and this machine)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.ollama


def _real_server():
    from core.config import load
    from core.errors import OllamaError
    from core.ollama import Ollama

    host = os.environ.get("OLLAMA_HOST")
    cfg = load(env={})
    try:
        o = Ollama(host, timeout=3, retries=0)
        o.model(cfg.get("ollama.chat_model"))
    except OllamaError as e:
        return None, str(e)
    return o, ""


def test_real_ollama_answers_a_counting_question(tmp_path, monkeypatch):
    server, why = _real_server()
    if server is None:
        pytest.skip(f"no real Ollama: {why}")
    from core import Lakehouse

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    with Lakehouse.open(home=tmp_path / "home") as lh:
        lh.demo(scale=0.01)
        r = lh.ask("How many candidates are there?", mode="sql")
        assert r.outcome == "answered" and r.sql
        assert 1000 in [v for row in r.rows for v in row.values()]

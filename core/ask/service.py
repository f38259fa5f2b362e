"""The facade's ask operations: answer a question with the asker for the chosen chat
model (kept between asks), recording it in the audit log; accept an ask's SQL as an
example for later prompts; what Ollama holds."""

from __future__ import annotations

import time

from core import access
from core.errors import Hint, LakehouseError, NotFound


def asker_for(lh, current, model: str | None):
    """`current` if it talks to the model this ask wants, else a new Asker over facade `lh`."""
    from core.ask.asker import Asker
    from core.ask.chat import Chat

    key = model or lh.profile.chat_model or lh.config.get("ollama.chat_model")
    if current is not None and current.chat.model == key:
        return current
    chat = Chat.from_config(lh.config, key)
    chat.keep_alive = lh.profile.keep_alive or chat.keep_alive
    return Asker(lh, lh.config, chat)


def answer(asker, audit_log, touched, question: str, mode: str, index: str | None, on_token):
    """Ask, and record it (`touched`: the datasets a SQL text reads)."""
    t0 = time.perf_counter()
    try:
        r = asker.ask(question, mode, index, on_token)
    except LakehouseError as e:
        audit_log.record("ask", [], question, None, (time.perf_counter() - t0) * 1000, "failed", str(e))
        raise
    datasets = touched(r.sql) if r.sql else sorted({c.dataset for c in r.citations})
    audit_log.record("ask", datasets, question, r.row_count, (time.perf_counter() - t0) * 1000,
                     "ok" if r.outcome != "failed" else "failed")
    return r


def accept(catalog, principal, ask_id: str) -> dict:
    row = access.own_ask(principal, catalog.asks.get(ask_id))
    if row is None:
        raise NotFound(f"no ask with id {ask_id!r}", hint=Hint("{a query of _asks} lists them", "sql",
                                                             {"text": "SELECT id, question FROM _asks"}))
    if not row["sql"] or row["outcome"] != "answered":
        raise LakehouseError(f"ask {ask_id} has no SQL that ran — only answered NL->SQL asks can be accepted")
    catalog.asks.accept(ask_id)
    return catalog.asks.get(ask_id)


def models(config) -> dict:
    from core.ollama import Ollama

    o = Ollama.from_config(config)
    return {"host": o.url, "version": o.version(), "installed": o.models(), "loaded": o.loaded()}


def ollama_status(config) -> dict:
    from core.ollama import Ollama

    o = Ollama.from_config(config)
    return {"url": o.url, "reachable": o.ping()}

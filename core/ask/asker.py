"""Ask a question of the data: route it, let the model write SQL or read passages,
check and run what it wrote, and record the whole exchange in `_asks`."""

from __future__ import annotations

import json
import re
import time
import uuid

from core.storage.db import now
from core.errors import Hint, LakehouseError, NotFound, OllamaError
from core.models import AskResult, Citation
from core.names import quote_ident
from core.ask.chat import Chat, estimate_tokens, shards
from core.query.gate import UnsafeSql, check_select

MODES = ("auto", "sql", "rag")
NOT_IN_DATA = "NOT IN DATA"
SQL_SCHEMA = {"type": "object", "properties": {"sql": {"type": "string"}, "reason": {"type": "string"}},
              "required": ["sql", "reason"]}
WHERE_SCHEMA = {"type": "object", "properties": {"where": {"type": "string"}}, "required": ["where"]}

_SQL_WORDS = re.compile(r"\b(how many|count|number of|average|avg|mean|median|total|sum|maximum|minimum|"
                        r"max|min|top \d+|most|least|per|each|group|rank|percent|percentage|ratio|trend|"
                        r"list all|by (month|year|week|day|city|state|client|status))\b", re.I)
_RAG_WORDS = re.compile(r"\b(who could|who can|someone|anyone|explain|describe|what does|what do|policy|"
                        r"how do|how to|why|summari[sz]e|experience with|similar|mentions?|says?|about)\b", re.I)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


class Asker:
    def __init__(self, lakehouse, cfg, chat: Chat):
        self.lh, self.cfg, self.chat = lakehouse, cfg, chat
        self._schema_cache: tuple[int, dict[str, str]] | None = None

    # -- routing ---------------------------------------------------------------------
    def route(self, question: str, mode: str, index: str | None) -> tuple[str, str]:
        if mode not in MODES:
            raise LakehouseError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode != "auto":
            return mode, f"{mode}: asked for"
        sql_hit = _SQL_WORDS.search(question)
        rag_hit = _RAG_WORDS.search(question)
        has_index = bool(index or self.lh.indexes())
        if sql_hit and not rag_hit:
            return "sql", f"auto -> sql: the question asks for a computation ('{sql_hit.group(0)}')"
        if rag_hit and has_index and sql_hit:
            return "hybrid", (f"auto -> hybrid: SQL narrows ('{sql_hit.group(0)}'), passages explain "
                              f"('{rag_hit.group(0)}')")
        if rag_hit and has_index:
            return "rag", f"auto -> rag: the question is about what the text says ('{rag_hit.group(0)}')"
        if not has_index:
            return "sql", "auto -> sql: there is no vector index to search"
        names = {d.name for d in self.lh.datasets()} | {c.name for d in self.lh.datasets() for c in d.columns}
        named = _words(question) & {w.lower() for n in names for w in n.split("_")}
        if named:
            return "sql", f"auto -> sql: the question names the data ({', '.join(sorted(named)[:3])})"
        return "rag", "auto -> rag: no computation asked for; searching the text"

    # -- the schema the model sees --------------------------------------------------------
    def _schemas(self) -> dict[str, str]:
        gen = self.lh.catalog.meta.generation()
        if self._schema_cache and self._schema_cache[0] == gen:
            return self._schema_cache[1]
        n = self.cfg.get("ask.sample_values")
        out = {}
        for ds in self.lh.datasets():
            # the engine, not the audited facade: the ask is audited once, not once per table
            sample = self.lh.engine.run(f"SELECT * FROM {quote_ident(ds.name)} LIMIT {max(n, 1) * 3}").to_pylist()
            lines = [f"TABLE {ds.name} ({ds.row_count:,} rows)" + (f" -- {ds.description}" if ds.description else "")]
            for c in ds.columns:
                vals = []
                for r in sample:
                    v = r.get(c.name)
                    if v is not None and str(v) not in vals:
                        vals.append(str(v)[:40])
                    if len(vals) >= n:
                        break
                lines.append(f"  {c.name} {c.type}" + (f"  e.g. {', '.join(vals)}" if vals else ""))
            out[ds.name] = "\n".join(lines)
        self._schema_cache = (gen, out)
        return out

    def _schema_prompt(self, question: str, only: list[str] | None = None) -> str:
        schemas = self._schemas()
        names = only or list(schemas)
        text = "\n\n".join(schemas[n] for n in names)
        room = self.chat.budget // 2
        if estimate_tokens(text) > room and not only:
            # too many tables to show: keep those the question's words point at
            q = _words(question)
            ranked = sorted(names, key=lambda n: -len(q & _words(schemas[n])))
            keep, used = [], 0
            for n in ranked:
                t = estimate_tokens(schemas[n])
                if used + t > room:
                    continue
                keep.append(n)
                used += t
            text = "\n\n".join(schemas[n] for n in keep)
        return text

    def _examples(self, question: str, tables: set[str]) -> str:
        """Accepted question->SQL pairs that read only what this profile sees (another
        profile's example would show its datasets to this one's model)."""
        n = self.cfg.get("ask.examples")
        past = [a for a in self.lh.catalog.asks.accepted() if _reads_only(a["sql"], tables)]
        if not n or not past:
            return ""
        q = _words(question)
        best = sorted(past, key=lambda a: -len(q & _words(a["question"])))[:n]
        return "\n".join(f"Q: {a['question']}\nSQL: {a['sql']}" for a in best)

    # -- NL -> SQL ---------------------------------------------------------------------------
    def _write_sql(self, question: str, result: AskResult, t: dict) -> None:
        tables = {d.name for d in self.lh.datasets()} | {"_datasets", "_jobs", "_errors", "_journal"}
        schema = self._schema_prompt(question)
        examples = self._examples(question, tables)
        system = ("You translate a question into ONE DuckDB SQL SELECT statement over the tables below. "
                  "Use only these tables and columns; never modify data; never read files. Reply with a JSON "
                  'object {"sql": "...", "reason": "..."} and nothing else. If the tables cannot answer the '
                  'question, reply {"sql": "", "reason": "<why>"}.\n\n' + schema
                  + (f"\n\nExamples of accepted answers:\n{examples}" if examples else ""))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        limit = self.cfg.get("ask.row_limit")
        attempts = self.cfg.get("ask.sql_attempts")
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            t0 = time.perf_counter()
            reply = self.chat.complete(messages, schema=SQL_SCHEMA, what="the schema prompt")
            t["model_ms"] = t.get("model_ms", 0) + (time.perf_counter() - t0) * 1000
            result.continuations += reply.continuations
            try:
                obj = reply.json()
                sql = str(obj.get("sql", "")).strip()
            except (ValueError, AttributeError):
                sql, obj = "", {"reason": "the reply was not the JSON object asked for"}
            if not sql:
                raise LakehouseError(f"the model found no SQL for this question: {obj.get('reason') or 'no reason given'}")
            result.sql = sql
            t1 = time.perf_counter()
            try:
                safe = check_select(sql, tables)
                # the bracket on a line of its own: a trailing `-- comment` cannot swallow it
                table = self.lh.sql(f"SELECT * FROM ({safe}\n) AS answer LIMIT {limit + 1}")
                count = len(table) if len(table) <= limit else \
                    self.lh.sql(f"SELECT count(*) FROM ({safe}\n) AS answer").column(0)[0].as_py()
            except UnsafeSql as e:
                t["sql_ms"] = t.get("sql_ms", 0) + (time.perf_counter() - t1) * 1000
                raise LakehouseError(f"{e} — nothing was run") from None
            except LakehouseError as e:
                t["sql_ms"] = t.get("sql_ms", 0) + (time.perf_counter() - t1) * 1000
                if attempt == attempts:
                    raise LakehouseError(f"the model's SQL failed {attempts} times; the last error: {e}") from None
                messages = messages + [{"role": "assistant", "content": reply.text},
                                       {"role": "user", "content": f"That SQL failed: {e}\nReply with corrected "
                                                                   "JSON only."}]
                continue
            t["sql_ms"] = t.get("sql_ms", 0) + (time.perf_counter() - t1) * 1000
            table = table.slice(0, limit)
            result.columns, result.rows, result.row_count = table.column_names, table.to_pylist(), count
            return

    def _summarise(self, question: str, result: AskResult, on_token, t: dict) -> None:
        shown = result.rows[:20]
        lines = [",".join(result.columns)] + [",".join("" if r[c] is None else str(r[c]) for c in result.columns)
                                              for r in shown]
        body = "\n".join(lines)
        messages = [{"role": "system", "content": "Answer the question in one to three sentences using only the "
                                                  "query result given. Do not invent numbers."},
                    {"role": "user", "content": f"Question: {question}\nSQL: {result.sql}\nResult "
                                                f"({result.row_count:,} rows, {len(shown)} shown):\n{body}"}]
        t0 = time.perf_counter()
        reply = self.chat.complete(messages, on_token=on_token, what="the result summary prompt")
        t["model_ms"] = t.get("model_ms", 0) + (time.perf_counter() - t0) * 1000
        result.continuations += reply.continuations
        result.answer = reply.text.strip()

    # -- RAG --------------------------------------------------------------------------------
    def _index(self, index: str | None) -> str:
        name = index or self.cfg.get("ask.index")
        if name:
            return name
        infos = [i for i in self.lh.indexes() if i.active_gen is not None]
        if not infos:
            raise NotFound("there is no vector index to search",
                           hint=Hint("build one", "embed", {"dataset": "DATASET", "column": "COL"}))
        return infos[0].name

    def _rag(self, question: str, result: AskResult, index: str, where: str | None, on_token, t: dict) -> None:
        t0 = time.perf_counter()
        memory = self.lh._uses_memory(None, "ask")  # memory re-ranks the passages: profile, else [memory] ask
        try:
            found = self.lh.search(index, question, self.cfg.get("ask.rag_k"), where=where, memory=memory)
        except LakehouseError as e:
            if not where:
                raise
            result.reason += f"; the model's filter was dropped ({e})"  # search all rows instead
            result.where = ""
            found = self.lh.search(index, question, self.cfg.get("ask.rag_k"), memory=memory)
        t["retrieve_ms"] = (time.perf_counter() - t0) * 1000
        result.index, result.memory = found.index, found.memory
        hits = found.hits
        result.citations = [Citation(i + 1, h.dataset, h.row_key, h.chunk_id, h.score, h.text)
                            for i, h in enumerate(hits)]
        floor = self.cfg.get("ask.min_score")
        if not hits or hits[0].score < floor:
            best = f"the best match scored {hits[0].score:.2f}" if hits else "nothing matched"
            result.outcome = "not_in_data"
            result.answer = (f"The data does not contain an answer to this: {best} "
                             f"(threshold {floor:.2f}, index {found.index} g{found.gen}).")
            result.citations = []
            return
        passages = [f"[{c.n}] ({c.dataset} {c.row_key}) {c.text}" for c in result.citations]
        system = ("Answer the question using ONLY the numbered passages. Cite the passages you use like [2]. "
                  f"If the passages do not contain the answer, reply exactly: {NOT_IN_DATA}")
        overhead = estimate_tokens(system + question) + 200
        groups = shards(passages, self.chat.budget, overhead)
        notes = ""
        if len(groups) > 1:  # too much to read at once: map the shards into running notes, then reduce
            for g in groups:
                msgs = [{"role": "system", "content": "You extract facts. Update the notes with what the passages "
                                                      "say that helps answer the question. Keep the passage "
                                                      "numbers like [3] on every fact. Reply with the notes only."},
                        {"role": "user", "content": f"Question: {question}\nNotes so far:\n{notes or '(none)'}\n\n"
                                                    "Passages:\n" + "\n".join(passages[i] for i in g)}]
                t1 = time.perf_counter()
                reply = self.chat.complete(msgs, what="a shard of passages")
                t["model_ms"] = t.get("model_ms", 0) + (time.perf_counter() - t1) * 1000
                notes = reply.text.strip()
                result.continuations += reply.continuations
            context = f"Notes drawn from the passages:\n{notes}"
        else:
            context = "Passages:\n" + "\n".join(passages)
        msgs = [{"role": "system", "content": system},
                {"role": "user", "content": f"{context}\n\nQuestion: {question}"}]
        t1 = time.perf_counter()
        reply = self.chat.complete(msgs, on_token=on_token, what="the passages")
        t["model_ms"] = t.get("model_ms", 0) + (time.perf_counter() - t1) * 1000
        result.continuations += reply.continuations
        answer = reply.text.strip()
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
        valid = cited & {c.n for c in result.citations}
        if answer.upper().startswith(NOT_IN_DATA) or not valid:
            result.outcome = "not_in_data"
            why = "the model found no answer in them" if answer.upper().startswith(NOT_IN_DATA) else \
                "the model's answer cited none of them, so it was withheld"
            result.answer = f"The data does not contain an answer to this: {len(hits)} passages were read and {why}."
            result.citations = []
            return
        result.answer = answer
        result.citations = [c for c in result.citations if c.n in valid]

    def _hybrid_where(self, question: str, index: str, t: dict) -> str:
        info = self.lh.index(index.split("@")[0])
        schema = self._schema_prompt(question, only=[info.dataset])
        msgs = [{"role": "system", "content": "Write a SQL WHERE condition (DuckDB syntax, without the word WHERE) "
                                              "on this table that keeps only the rows the question is limited "
                                              'to. Reply with JSON {"where": "..."}; use "" if there is no such '
                                              "limit.\n\n" + schema},
                {"role": "user", "content": question}]
        t0 = time.perf_counter()
        reply = self.chat.complete(msgs, schema=WHERE_SCHEMA, what="the filter prompt")
        t["model_ms"] = t.get("model_ms", 0) + (time.perf_counter() - t0) * 1000
        try:
            return str(reply.json().get("where", "")).strip()
        except (ValueError, AttributeError):
            return ""

    # -- the whole exchange --------------------------------------------------------------
    def ask(self, question: str, mode: str = "auto", index: str | None = None, on_token=None) -> AskResult:
        if not isinstance(question, str) or not question.strip():
            raise LakehouseError("the question is empty — ask something about your data")
        question = question.strip()
        t0 = time.perf_counter()
        t: dict[str, float] = {}
        chosen, reason = self.route(question, mode, index)
        result = AskResult(uuid.uuid4().hex[:10], question, chosen, reason, "answered", "", self.chat.model)
        try:
            self.chat.prepare()  # Ollama down or the model missing: say so before any other work
            if chosen == "sql":
                self._write_sql(question, result, t)
                self._summarise(question, result, on_token, t)
            else:
                name = self._index(index)
                where = None
                if chosen == "hybrid":
                    where = self._hybrid_where(question, name, t) or None
                    result.where = where or ""
                self._rag(question, result, name, where, on_token, t)
        except (LakehouseError, OllamaError) as e:
            result.outcome, result.error = "failed", str(e)
            t["total_ms"] = (time.perf_counter() - t0) * 1000
            result.timings_ms = {k: round(v, 2) for k, v in t.items()}
            self._record(result)
            raise
        t["total_ms"] = (time.perf_counter() - t0) * 1000
        t["pipeline_ms"] = t["total_ms"] - t.get("model_ms", 0)
        result.timings_ms = {k: round(v, 2) for k, v in t.items()}
        self._record(result)
        return result

    def _record(self, r: AskResult) -> None:
        self.lh.catalog.asks.add({
            "id": r.id, "ts": now(), "question": r.question, "mode": r.mode, "reason": r.reason, "sql": r.sql,
            "row_count": r.row_count,
            "citations_json": json.dumps([{"n": c.n, "dataset": c.dataset, "row_key": c.row_key,
                                           "chunk_id": c.chunk_id, "score": c.score} for c in r.citations]),
            "answer": r.answer, "model": r.model, "timings_json": json.dumps(r.timings_ms),
            "outcome": r.outcome, "error": r.error, "profile": self.lh.profile.id})


def _reads_only(sql: str, tables: set[str]) -> bool:
    try:
        check_select(sql, tables)
        return True
    except Exception:  # UnsafeSql, or no longer parses
        return False

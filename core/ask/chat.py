"""One chat model with a fixed context budget, and no silent truncation either way.

- Input: a prompt whose estimated size does not fit `num_ctx` minus the room kept for
  the reply is refused with its numbers (callers split first: see `shards`). A reply
  whose `prompt_eval_count` exceeds that budget means the estimate was beaten and the
  server cut the prompt: an error too, never a silently worse answer.
- Output: a reply cut short (`done_reason` = length) or JSON that does not parse is
  continued, the partial reply given back as scratchpad, up to `max_continuations`
  times; then the call fails and says how far it got.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.errors import OllamaError

CONTINUE = ("Your previous reply was cut off. Continue exactly where it stopped — do not repeat "
            "anything, do not start over, do not add commentary.")


def estimate_tokens(text: str) -> int:
    """Conservative: ~3 characters per token (English prose is ~4), plus overhead."""
    return len(text) // 3 + 4


@dataclass
class Reply:
    text: str
    continuations: int = 0
    prompt_tokens: int = 0
    reply_tokens: int = 0
    model_ms: float = 0.0
    calls: list = field(default_factory=list)

    def json(self) -> dict:
        return json.loads(_strip_fences(self.text))


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t.strip()


def _parses(text: str) -> bool:
    try:
        json.loads(_strip_fences(text))
        return True
    except ValueError:
        return False


class Chat:
    def __init__(self, ollama, model: str, num_ctx: int, num_predict: int, max_continuations: int,
                 keep_alive: str):
        self.ollama, self.model = ollama, model
        self.num_ctx, self.num_predict = num_ctx, num_predict
        self.max_continuations, self.keep_alive = max_continuations, keep_alive
        self._think: bool | None = None
        self._checked = False

    @classmethod
    def from_config(cls, cfg, model: str | None = None) -> "Chat":
        from core.ollama import Ollama

        return cls(Ollama.from_config(cfg), model or cfg.get("ollama.chat_model"),
                   cfg.get("ollama.chat_num_ctx"), cfg.get("ollama.num_predict"),
                   cfg.get("ollama.max_continuations"), cfg.get("ollama.keep_alive"))

    @property
    def budget(self) -> int:
        """Prompt tokens that fit beside a full-length reply."""
        return self.num_ctx - self.num_predict - 64

    def prepare(self) -> None:
        """Check once that the server answers and the model can chat (one sentence if
        not), and learn whether it thinks: structured replies switch thinking off."""
        if not self._checked:
            caps = self.ollama.capabilities(self.model)
            if caps and "completion" not in caps:
                raise OllamaError(f"model {self.model!r} cannot chat (its capabilities: {', '.join(caps)}) — "
                                  "set [ollama] chat_model to a chat model such as qwen2.5:7b")
            self._think = False if "thinking" in caps else None
            self._checked = True

    def prompt_tokens(self, messages: list[dict]) -> int:
        return sum(estimate_tokens(m["content"]) + 4 for m in messages)

    def check_fits(self, messages: list[dict], what: str = "the prompt") -> None:
        need = self.prompt_tokens(messages)
        if need > self.budget:
            raise OllamaError(f"{what} is ~{need:,} tokens, over the {self.budget:,} that fit "
                              f"(chat_num_ctx {self.num_ctx:,} − num_predict {self.num_predict:,}) — it was not "
                              "sent cut; raise [ollama] chat_num_ctx or narrow the question")

    def complete(self, messages: list[dict], *, schema: dict | None = None, on_token=None,
                 what: str = "the prompt") -> Reply:
        self.prepare()
        self.check_fits(messages, what)
        reply = Reply("")
        msgs = list(messages)
        while True:
            r = self.ollama.chat(self.model, msgs, format=schema if reply.continuations == 0 else None,
                                 think=self._think,
                                 options={"num_ctx": self.num_ctx, "num_predict": self.num_predict,
                                          "temperature": 0},
                                 keep_alive=self.keep_alive, on_token=on_token)
            reply.calls.append({k: r[k] for k in ("done_reason", "prompt_eval_count", "eval_count")})
            # Our estimate is conservative and kept the prompt under the budget, so a server
            # count above it means the prompt did not fit: it was cut (Ollama drops the start
            # of an overlong prompt), or squeezed the reply's room. Either way: not trusted.
            if r["prompt_eval_count"] > self.budget:
                estimate = self.prompt_tokens(msgs)
                raise OllamaError(f"Ollama evaluated {r['prompt_eval_count']:,} prompt tokens (estimated "
                                  f"{estimate:,}; budget {self.budget:,} of context {self.num_ctx:,}): the server "
                                  "cut the prompt, so the reply cannot be trusted — raise [ollama] chat_num_ctx "
                                  "or narrow the question")
            reply.text += r["content"]
            reply.prompt_tokens += r["prompt_eval_count"]
            reply.reply_tokens += r["eval_count"]
            reply.model_ms += r["total_ms"]
            cut = r["done_reason"] == "length" or (schema is not None and not _parses(reply.text))
            if not cut:
                return reply
            if reply.continuations >= self.max_continuations:
                why = ("reached num_predict" if r["done_reason"] == "length" else "is not valid JSON")
                raise OllamaError(f"the reply from {self.model} {why} after {reply.continuations} "
                                  f"continuation(s) ({reply.reply_tokens:,} tokens, {len(reply.text):,} "
                                  f"characters) — raise [ollama] num_predict or max_continuations, or ask a "
                                  "narrower question")
            reply.continuations += 1
            msgs = list(messages) + [{"role": "assistant", "content": reply.text},
                                     {"role": "user", "content": CONTINUE}]
            self.check_fits(msgs, "the prompt with the partial reply")


def shards(items: list[str], budget: int, overhead: int) -> list[list[int]]:
    """Pack items (by index) into groups whose estimated tokens fit `budget - overhead`;
    an item that alone does not fit raises with its numbers."""
    room = budget - overhead
    groups: list[list[int]] = [[]]
    used = 0
    for i, text in enumerate(items):
        t = estimate_tokens(text)
        if t > room:
            raise OllamaError(f"passage [{i + 1}] alone is ~{t:,} tokens, over the {room:,} that fit beside "
                              "the question and the notes — it was not cut; raise [ollama] chat_num_ctx or "
                              "embed with a smaller --chunk-size")
        if used + t > room and groups[-1]:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += t
    return groups

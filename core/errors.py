"""Errors a user sees: one clear sentence saying what failed, where, and what to do.

Frontends print `str(error)` (CLI: stderr + non-zero exit; TUI: a notification;
daemon: a JSON-RPC error object) and, when the error has one, its `hint`: what to do
next, which each frontend words in its own terms (`hint_text` gives it as plain text;
the CLI names its command). Core's messages never name a frontend's commands.
Anything that is not a LakehouseError is a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAMED = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Hint:
    """What to do next, in words no frontend owns.

    text: a clause that follows the error's sentence after " — ", e.g. "rebuild it from
    its embeddings". Words in braces name the operation ("run {the demo} again"): a
    frontend may put its own name for it there; plain text drops the braces.
    action: the operation to run, a name of core.api's registry ("rebuild_index"), or
    None. With args but no action it means the same request again with those settings
    changed (e.g. {"profile": "default"}).
    args: the operation's arguments ({"name": "people", "gen": 3}); a value in capitals
    ("DATASET") is a placeholder for the user to fill in.
    """

    text: str
    action: str | None = None
    args: dict = field(default_factory=dict)

    def plain(self) -> str:
        """The clause as plain text, without any frontend's syntax."""
        return _NAMED.sub(r"\1", self.text)

    def naming(self, name: str) -> str:
        """The clause with the operation called `name` (a frontend's own name for it): in
        place of the braced words, else after "with"."""
        if _NAMED.search(self.text):
            return _NAMED.sub(lambda m: name, self.text, count=1)
        return f"{self.text} with {name}"

    def to_dict(self) -> dict:
        """The JSON shape (the daemon's error data): {"text", "action", "args"}."""
        return {"text": self.text, "action": self.action, "args": dict(self.args)}

    @classmethod
    def from_dict(cls, d) -> Hint | None:
        """A hint from `to_dict`'s shape; None for anything else."""
        if not (isinstance(d, dict) and isinstance(d.get("text"), str)):
            return None
        action, args = d.get("action"), d.get("args")
        return cls(d["text"], action if isinstance(action, str) else None, args if isinstance(args, dict) else {})


class LakehouseError(Exception):
    """Base class: the message is the whole user-facing sentence of what failed.

    `hint` is None or a Hint (above): what to do next, kept apart from the message so
    each frontend can say it in its own terms (`hint_text(e)` for plain text)."""

    exit_code = 1
    refused = False  # the audit's outcome: True when the product said no (scope, read-only, a
    # name that is not there), False when the work was tried and failed (syntax, a type, I/O)
    hint: Hint | None = None

    def __init__(self, *args, hint: Hint | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint


def hint_text(e: BaseException) -> str | None:
    """The error's hint as a plain sentence fragment (no CLI syntax), or None."""
    hint = getattr(e, "hint", None)
    return hint.plain() if isinstance(hint, Hint) else None


class ConfigError(LakehouseError):
    exit_code = 2


class NameError_(LakehouseError):
    """An invalid dataset name (kept distinct from the builtin NameError)."""

    exit_code = 2
    refused = True


class NotFound(LakehouseError):
    refused = True


class IngestError(LakehouseError):
    pass


class SqlError(LakehouseError):
    """A query that could not run: refused by the read-only gate or the profile
    (refused=True), or failed in DuckDB (a syntax, binder or runtime error)."""

    def __init__(self, message: str, refused: bool = False, *, hint: Hint | None = None) -> None:
        super().__init__(message, hint=hint)
        self.refused = refused


class Cancelled(LakehouseError):
    """A job was cancelled by the user; nothing it started is left behind."""

    exit_code = 130


class VectorError(LakehouseError):
    """Embedding, index or search failures (bad input, corrupt files, model mismatch)."""

    refused = True


class OllamaError(LakehouseError):
    """The Ollama server could not do what was asked (unreachable, model missing, ...)."""

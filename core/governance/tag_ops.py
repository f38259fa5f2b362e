"""The facade's catalog governance operations (a part of `core.Lakehouse`): column
sensitivity tags — found by the scan at ingest (core/governance/scan.py), set or cleared
by users, listed with their evidence — and a dataset's owner and description, which the
chat model may draft (marked as drafted until a user sets one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.api import operation
from core.errors import LakehouseError, NotFound
from core.governance.rows import TAGS

CHOICES = (*TAGS, "none")
SAMPLE_VALUES = 5   # rows of untagged columns shown to the model when drafting
VALUE_CHARS = 60    # each value cut to this in the prompt
MAX_REASON = 1000   # a tag's reason is a sentence, kept in the catalog and the audit
SHOWN_COLUMNS = 20  # columns a "no such column" message lists (a table may have thousands)


@dataclass
class ColumnTag:
    """One column's sensitivity: the tag that applies and why."""

    dataset: str
    column: str
    type: str
    tag: str | None          # pii | financial | health; None: untagged (or cleared)
    source: str = ""         # 'scan' | 'user' | '' (nothing found, nothing set)
    kind: str = ""           # the scan's detector (us_ssn, email, ...)
    share: float | None = None   # matching share of the values it checked
    sampled: int | None = None   # values it checked
    by_name: bool = False    # the column's name hinted the kind
    scan_tag: str | None = None  # what the scan found, when a user's choice overrides it
    reason: str = ""
    actor: str = ""
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"evidence": self.evidence()}

    def evidence(self) -> str:
        """Why: `us_ssn, 100% of 512 sampled` or `set by alice: reason`."""
        found = (f"{self.kind}, {self.share:.0%} of {self.sampled:,} sampled"
                 if self.kind and self.share is not None and self.sampled is not None else "")
        if self.source == "user":
            said = f"{'cleared' if self.tag is None else 'set'} by {self.actor or 'someone'}"
            said += f": {self.reason}" if self.reason else ""
            return said + (f" (scan: {self.scan_tag}, {found})" if self.scan_tag and found else "")
        return found


def resolve_column(ds, column: str) -> str:
    """The column `column` names: as written, else "quoted" as in SQL, else the one column
    equal but for case (SQL names ignore case, so a dataset has at most one)."""
    names = [c.name for c in ds.columns]
    text = str(column)
    if text in names:
        return text
    if len(text) >= 2 and text[0] == text[-1] == '"' and text[1:-1].replace('""', '"') in names:
        return text[1:-1].replace('""', '"')
    folded = [n for n in names if n.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(names[:SHOWN_COLUMNS]) + (f", … ({len(names):,} in all)" if len(names) > SHOWN_COLUMNS else "")
    raise NotFound(f"dataset {ds.name} has no column {text[:100]!r} — its columns: {shown}")


def column_tags(catalog, ds, only_tagged: bool = False) -> list[ColumnTag]:
    """Each of dataset `ds`'s columns with its tag; `only_tagged`: those with a scan or user row."""
    rows = catalog.tags.rows(ds.name)
    out = []
    for c in ds.columns:
        got = rows.get((ds.name, c.name), {})
        if only_tagged and not got:
            continue
        scan, user = got.get("scan"), got.get("user")
        ev = scan["evidence"] if scan else {}
        row = user or scan or {}
        tag = row.get("tag")
        out.append(ColumnTag(ds.name, c.name, c.type, None if tag in (None, "none") else tag,
                             "user" if user else "scan" if scan else "", ev.get("kind", ""),
                             ev.get("share"), ev.get("sampled"), bool(ev.get("by_name")),
                             scan["tag"] if scan and user else None,
                             user["reason"] if user else "", user["actor"] if user else "", row.get("at", "")))
    return out


def columns_table(catalog):
    """The `_columns` system table: every column of every dataset with its tag and evidence."""
    import pyarrow as pa

    names = ["dataset", "column_name", "type", "tag", "tag_source", "evidence", "detector", "share",
             "sampled", "reason", "actor", "updated_at"]
    rows = [(t.dataset, t.column, t.type, t.tag, t.source or None, t.evidence() or None, t.kind or None,
             t.share, t.sampled, t.reason, t.actor, t.at or None)
            for ds in catalog.datasets.all() for t in column_tags(catalog, ds)]
    types = [pa.string()] * 7 + [pa.float64(), pa.int64()] + [pa.string()] * 2
    arrays = [pa.array([r[i] for r in rows], t) for i, t in enumerate(types)]
    arrays.append(pa.array([r[11] for r in rows], pa.string()).cast(pa.timestamp("ms", tz="UTC")))
    return pa.table(arrays, names=names)


class TagOps:
    """Mixed into Lakehouse: uses its catalog, config, profile and audit log."""

    @operation("set or clear a column's sensitivity tag (pii, financial, health or none); a ColumnTag",
               remote=True, scope="datasets", audited=True, mutates=True)
    def tag(self, dataset: str, column: str, tag: str, *, reason: str = "", actor: str | None = None):
        """Set column `column`'s tag, or clear it with "none": the user's choice wins over
        the scan's and is kept across re-ingests."""
        from core.ingest.run import current_user

        choice = str(tag).strip().lower()
        reason = str(reason or "")

        def apply():
            ds = self.dataset(dataset)
            if choice not in CHOICES:
                raise LakehouseError(f"{str(tag)[:40]!r} is not a sensitivity tag — use one of: {', '.join(CHOICES)}")
            if len(reason) > MAX_REASON:
                raise LakehouseError(f"the reason is {len(reason):,} characters long — say it in at most "
                                     f"{MAX_REASON:,}")
            name = resolve_column(ds, column)
            self.catalog.tags.set_user(ds.name, name, choice, reason, actor or current_user())
            return next(t for t in column_tags(self.catalog, ds) if t.column == name)
        return self._guard("tag", dataset, apply, f"{str(column)[:200]} -> {choice[:40]}"
                           + (f": {reason[:MAX_REASON]}" if reason else ""))

    @operation("columns' sensitivity tags with their evidence (one dataset, or every one this profile sees)",
               remote=True, scope="datasets")
    def tags(self, dataset: str | None = None) -> list[ColumnTag]:
        """Columns that are tagged, or that a user tagged or cleared, with where each tag
        comes from (the scan's detector, share and sample, or the user's reason)."""
        sets = [self.dataset(dataset)] if dataset is not None else self.datasets()
        return [t for ds in sets for t in column_tags(self.catalog, ds, only_tagged=True)]

    @operation("set a dataset's description, owner or tags", remote=True, scope="datasets", audited=True,
               mutates=True)
    def annotate(self, name: str, *, description: str | None = None, owner: str | None = None,
                 tags: list[str] | None = None):
        def apply():  # audited, and refused to a profile whose policy shapes the dataset (as tag is)
            self.catalog.datasets.annotate(name, description, owner, tags)
            if description is not None:
                self.catalog.tags.clear_draft(name)  # a person's description: no longer a draft
            return self.dataset(name)
        said = [f"{k}={v!r}"[:200] for k, v in (("description", description), ("owner", owner), ("tags", tags))
                if v is not None]
        return self._guard("annotate", name, apply, ", ".join(said))

    @operation("draft a dataset's description with the chat model (marked as drafted)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def draft_description(self, dataset: str, *, model: str | None = None) -> dict:
        """Ask the chat model for a one-paragraph description from the schema and a few
        values of the columns that are not tagged (tagged columns' values are never sent);
        store it as the description, marked as drafted."""
        ds = self.dataset(dataset)
        self._policy_write_check(ds.name, "describe")  # it stores the draft as the description
        return self.audit_log.timed("draft_description", [ds.name], "", lambda: self._draft(ds, model))

    def _draft(self, ds, model: str | None) -> dict:
        from core.ask.chat import Chat

        key = model or self.profile.chat_model or self.config.get("ollama.chat_model")
        chat = Chat.from_config(self.config, key)
        chat.keep_alive = self.profile.keep_alive or chat.keep_alive
        chat.prepare()  # Ollama absent or the model unable to chat: said before any row is read
        text = chat.complete(_draft_prompt(ds, self.catalog.tags.effective(ds.name), self._draft_rows(ds)),
                             what="the description prompt").text.strip()
        if not text:
            raise LakehouseError(f"the chat model {key} drafted an empty description of {ds.name} — "
                                 "try again, or choose another chat model")
        self.catalog.datasets.annotate(ds.name, text, None, None)
        self.catalog.tags.set_draft(ds.name, text, key)
        return {"dataset": ds.name, "description": text, "model": key, "drafted": True}

    def _draft_rows(self, ds) -> list[dict]:
        """A few rows of the untagged columns, through this profile's own (masked, filtered) view."""
        from core.names import quote_ident

        tagged = self.catalog.tags.effective(ds.name)
        cols = [c.name for c in ds.columns if c.name not in tagged]
        if not cols or ds.kind != "table":
            return []
        q = f"SELECT {', '.join(map(quote_ident, cols))} FROM {quote_ident(ds.name)} LIMIT {SAMPLE_VALUES}"
        return self.engine.run(q).to_pylist()

    def _governance_facts(self, name: str) -> dict:
        """What describe adds: each column's tag, and whether the description is a draft."""
        ds = self.dataset(name)
        draft = self.catalog.tags.draft(name)
        return {"column_tags": column_tags(self.catalog, ds),
                "description_drafted": bool(draft and draft["description"] == ds.description)}


def _draft_prompt(ds, tagged: dict[str, str], rows: list[dict]) -> list[dict]:
    schema = "\n".join(f"- {c.name} {c.type}" + (f" ({tagged[c.name]}: values withheld)" if c.name in tagged else "")
                       for c in ds.columns)
    examples = "\n".join("; ".join(f"{k}={str(v)[:VALUE_CHARS]}" for k, v in r.items()) for r in rows)
    user = (f"Dataset `{ds.name}` ({ds.kind}, {ds.row_count:,} rows).\nColumns:\n{schema}\n"
            + (f"Example rows (sensitive columns left out):\n{examples}\n" if examples else "")
            + "Write one short paragraph (2-4 sentences) describing what this dataset holds and what "
              "it could be used for. Plain text, no headings, no lists, no preamble.")
    return [{"role": "system", "content": "You write concise descriptions of datasets for a data catalog."},
            {"role": "user", "content": user}]

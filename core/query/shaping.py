"""The SQL engine's policy half: datasets read as the profile's policies show them.

A dataset a policy masks is a view whose SELECT replaces each masked column with its
mask; one a policy filters is copied, filtered and masked, into a table at first use
(per version), because DuckDB may evaluate a statement's conditions before a view's
own (an error raised on a filtered row would tell of it). Under a policy a statement
may name only the profile's datasets, system tables and its own CTEs — no file
functions over the raw data files, no other schema, not the mask's keyed hash.
"""

from __future__ import annotations

import secrets
import threading

from core.datasets.rows import ViewSpec
from core.errors import SqlError
from core.names import quote_ident
from core.query.messages import clean_error


def _sql_list(items: list[str]) -> str:
    from core.names import sql_str

    return "[" + ", ".join(sql_str(s) for s in items) + "]"


class Shaping:
    """Mixed into SqlEngine: its `guard`, `_views`, `_con`, `_running`, `root`, `source_sql`."""

    _PASSED_MAX = 512  # statements remembered as passing the policy's gate

    def check_guarded(self, text: str, extra: set[str], found: list | None = None) -> None:
        """The policy's gate (core/query/gate.py check_guarded). A statement that passed it
        while the catalog stood where it stands passes again without its parse tree being
        walked (~0.8 ms): a pane refreshing, an agent repeating itself."""
        from core.governance.policies import HASH_FUNCTION
        from core.query.gate import check_guarded

        key = (self._gen, text)
        passed = self.__dict__.setdefault("_passed", {})
        if key in passed:
            return
        check_guarded(text, set(self._views) | extra, f"policy {', '.join(self.guard.names)}", {HASH_FUNCTION},
                      found)
        if len(passed) >= self._PASSED_MAX:
            passed.clear()
        passed[key] = True

    def _shape(self, spec: ViewSpec):
        """What the guard does to a dataset as the catalog describes it, remembered until
        the catalog's generation moves on (a tag a mask follows bumps it too)."""
        from core.governance.policies import Shape

        if self.guard is None:
            return Shape({}, (), ())
        key = (spec.name, spec.version, tuple(c.name for c in spec.columns))
        memo = self._shape_memo  # emptied by each _sync
        if key not in memo:
            memo[key] = self.guard.shape(spec.name, [c.name for c in spec.columns])
        return memo[key]

    def shape(self, name: str):
        """What this engine's policies do to dataset `name` (a Shape; false when nothing)."""
        self._connection()
        from core.governance.policies import Shape

        spec = self._views.get(name)  # not one of its datasets: nothing to shape
        return self._shape(spec) if spec is not None else Shape({}, (), ())

    def _materialized(self, name: str, shape, spec: ViewSpec) -> bool:
        """A dataset whose rows a policy filters is read from a filtered copy, so no
        condition of a statement is ever evaluated on a filtered row (DuckDB may reorder
        the conjuncts of one filter: an error raised on a hidden row would tell of it). A
        shaped dataset read through delta-rs is copied too: its raw registration would
        otherwise be a name on the connection."""
        return shape.row_filter is not None or (spec.reader == "delta" and self.guard is not None
                                                and self.guard.touches(name))

    def view_sql(self, name: str, spec: ViewSpec, con=None) -> str:
        """The SELECT a dataset's view reads: its files, masked when a policy says so."""
        if self.guard is None:
            return self.source_sql(spec)
        return self._shaped(con or self._con, name, self.source_sql(spec))

    def _shaped(self, cur, name: str, source: str) -> str:
        """`source` (a SELECT of a dataset's raw columns) as the guard shows it; the columns
        are the source's own (an old version or mixed files may differ from the catalog's)."""
        cols = [(r[0], r[1]) for r in cur.execute(f"DESCRIBE {source}").fetchall()]
        return self.guard.select_sql(name, source, cols, self.guard.shape(name, [c for c, _ in cols]))

    def _materialize(self, cur, name: str, spec: ViewSpec, target: str, *, files=None, dataset=None) -> None:
        """Copy dataset `name` as the guard shows it — its current files, one version's
        `files`, or a delta-rs `dataset` — into table `target` on cursor `cur`."""
        from core.query.gate import condition_problem

        for cond in self._shape(spec).conditions:  # the search --where gate: one condition, its own columns
            problem = condition_problem(name, cond)
            if problem:
                raise SqlError(f"policy {', '.join(self._shape(spec).policies)}'s rows condition for {name} "
                               f"{problem} — fix it in lakehouse.toml", refused=True)
        raw = None
        if dataset is not None:  # under a random name, for this statement only
            raw = f"_lh_raw_{secrets.token_hex(8)}"
            cur.register(raw, dataset)
            source = f"SELECT * FROM {raw}"
        elif files is not None:
            source = f"SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)"
        else:
            source = self.source_sql(spec)
        try:
            cur.execute(f"CREATE OR REPLACE {target} AS {self._shaped(cur, name, source)}")
        except Exception as e:
            policies = ", ".join(self._shape(spec).policies) or ", ".join(self.guard.names)
            raise SqlError(f"policy {policies} cannot be applied to {name}: "
                           f"{clean_error(e)} — fix its rows condition in lakehouse.toml", refused=True) from None
        finally:
            if raw is not None:
                cur.unregister(raw)

    def _copy_current(self, con, name: str) -> None:
        """Make the filtered copy of a dataset's current version, and its view (on a cursor
        of its own, which interrupt() stops like a query)."""
        spec, q = self._views[name], quote_ident(name)
        cur = con.cursor()
        self._running[cur] = threading.get_ident()
        try:
            delta = None
            if spec.reader == "delta":
                from core.storage.tables import open_at

                delta = open_at(self.root / "tables" / name, name, spec.version).to_pyarrow_dataset()
            self._materialize(cur, name, spec, f"TABLE _policy.{q}", dataset=delta)
            cur.execute(f"CREATE OR REPLACE VIEW {q} AS SELECT * FROM _policy.{q}")
        finally:
            self._running.pop(cur, None)
            cur.close()


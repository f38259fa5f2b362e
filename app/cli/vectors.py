"""Vectors: embed a text column, search it by meaning, and the `index` group."""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from app.cli.options import INDEX, LIST_FORMAT, Embedder, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert
from core.text import count

group = typer.Typer(help="Vector indexes and their generations: list, promote, rollback, drop, rebuild.",
                    rich_markup_mode=None)


class IndexKind(str, Enum):
    hnsw = "hnsw"
    exact = "exact"


def embed(
    dataset: str = typer.Argument(..., help="Dataset whose text column to embed."),
    column: str = typer.Option(..., "--column", "-c", help="The text column."),
    index: Optional[str] = typer.Option(None, "--index", help="Index name (default DATASET_COLUMN)."),
    key: Optional[str] = typer.Option(None, "--key", help="Column(s) identifying a row, comma-separated (default: the primary key)."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Characters per chunk (default from config, 1000)."),
    overlap: Optional[int] = typer.Option(None, "--overlap", help="Characters shared by consecutive chunks (default 150)."),
    embedder: Optional[Embedder] = typer.Option(None, "--embedder", help="auto, ollama or hashing (default: the index's, else config)."),
    model: Optional[str] = typer.Option(None, "--model", help="Ollama embedding model (default nomic-embed-text)."),
    kind: Optional[IndexKind] = typer.Option(None, "--kind", help="hnsw (approximate) or exact (brute force)."),
    m: Optional[int] = typer.Option(None, "--m", help="HNSW links per node."),
    ef_construction: Optional[int] = typer.Option(None, "--ef-construction", help="HNSW build beam."),
    ef_search: Optional[int] = typer.Option(None, "--ef-search", help="HNSW search beam."),
    promote: Optional[bool] = typer.Option(None, "--promote/--no-promote", help="Make the new generation active (default: when it refreshes the active one's embedder)."),
    format: ListFormat = LIST_FORMAT,
):
    """Embed a text column into a new index generation (only new or changed chunks are embedded)."""
    with open_lh() as lh:
        r = run_job(lh.embed, dataset, column, index=index, key=key, chunk_size=chunk_size,
                    overlap=overlap, embedder=embedder.value if embedder else None, model=model,
                    kind=kind.value if kind else None, m=m, ef_construction=ef_construction,
                    ef_search=ef_search, promote=promote)
    print_embed(r, format)


def print_embed(r, format: ListFormat = ListFormat.table) -> None:
    from app.output import dumps

    if r.note:
        print(f"note: {r.note}", file=sys.stderr)
    if format == ListFormat.json:
        print(dumps(r.to_dict()))
        return
    if r.up_to_date:
        print(f"{r.index} is up to date: g{r.gen} already has all {r.chunks:,} chunks of "
              f"{r.dataset}.{r.column} — nothing embedded ({r.embedder})")
        return
    rate = r.embedded / r.seconds if r.seconds else 0
    print(f"{r.index} g{r.gen}: {count(r.rows, 'row')} -> {count(r.chunks, 'chunk')}; {r.embedded:,} embedded"
          f"{f' ({rate:,.0f} chunks/s)' if r.embedded else ''}, {r.reused:,} reused"
          f"{f', {r.removed:,} removed' if r.removed else ''}"
          f"{f', {r.split_inputs:,} long inputs split' if r.split_inputs else ''} in {r.seconds:.1f} s")
    print(f"embedder: {r.embedder}")
    if r.promoted:
        print(f"active: g{r.gen}")
    else:
        print(f"active: g{r.active_gen} (g{r.gen} is built beside it) — compare with `lakehouse search "
              f"--compare {r.index}@g{r.active_gen} {r.index}@g{r.gen} \"TEXT\"`, then "
              f"`lakehouse index promote {r.index} {r.gen}`")


def _hit_rows(result, width_cols: int = 4) -> tuple[list[str], list[list]]:
    """Rank, score, row key, chunk text, then the first few source columns."""
    extra: list[str] = []
    for h in result.hits:
        if h.row:
            extra = [c for c in h.row if c not in result.key and c != result.column][:width_cols]
            break
    cols = ["rank", "score", "row_key", "text"] + extra
    rows = [[h.rank, f"{h.score:.3f}", h.row_key, h.text] + [(h.row or {}).get(c) for c in extra]
            for h in result.hits]
    if result.memory is not None:  # why each hit moved: "+0.08 from memories #12, #40 (was 11)"
        from core.memory.boost import why

        cols.insert(2, "memory")
        for h, row in zip(result.hits, rows):
            row.insert(2, why(h) + (f" (was {h.was_rank})" if h.was_rank != h.rank else ""))
    return cols, rows


def _search_caption(r) -> str:
    scope = f"{r.passed_filter:,} of {r.chunks:,} chunks passed --where" if r.passed_filter is not None \
        else f"{r.chunks:,} chunks"
    source = f" ({r.hits[0].dataset}.{r.column})" if r.hits else ""
    memory = ""
    if r.memory is not None:
        from core.memory.boost import boost_counts

        memory = f"\nmemory: {boost_counts(r.memory)}"
    return (f"{r.index} g{r.gen}{source} · {r.embedder} · {r.strategy} · {scope} · "
            f"{r.timings_ms['total_ms']:.1f} ms{memory}")


def search(
    args: List[str] = typer.Argument(..., help="INDEX TEXT, or with --compare: INDEX@gA INDEX@gB TEXT."),
    k: int = typer.Option(10, "-k", "--k", help="Number of results."),
    where: Optional[str] = typer.Option(None, "--where", help="SQL condition on the source dataset; only rows passing it are ranked."),
    ef: Optional[int] = typer.Option(None, "--ef", help="HNSW search beam for this query (default: the generation's)."),
    embedder: Optional[Embedder] = typer.Option(None, "--embedder", help="Must match the embedder that built the index."),
    compare: bool = typer.Option(False, "--compare", help="Search two generations side by side (overlap@k)."),
    memory: Optional[bool] = typer.Option(None, "--memory/--no-memory", help="Re-rank with playbook memory: rows "
                                          "that similar past operations endorsed rise, each saying why (default: "
                                          "the profile's memory, else [memory] search)."),
    format: ListFormat = LIST_FORMAT,
):
    """Search an index by meaning; --where narrows to rows passing a SQL condition (hybrid)."""
    from app.output import dumps, print_rows

    want = 3 if compare else 2
    if len(args) != want:
        usage = "INDEX@gA INDEX@gB TEXT" if compare else "INDEX TEXT"
        print(f"error: search takes {usage} (got {len(args)} argument{'s' if len(args) != 1 else ''}) — "
              "quote the search text", file=sys.stderr)
        raise typer.Exit(2)
    with open_lh() as lh:
        if compare:
            out = lh.compare(args[0], args[1], args[2], k, where=where)
        else:
            out = lh.search(args[0], args[1], k, where=where, ef=ef,
                            embedder=embedder.value if embedder else None, memory=memory)
    if not compare:
        if format == ListFormat.json:
            print(dumps(out.to_dict()))
            return
        cols, rows = _hit_rows(out)
        print_rows(cols, rows, caption=_search_caption(out), wide=("text",))
        return
    a, b = out["a"], out["b"]
    if format == ListFormat.json:
        print(dumps({"a": a.to_dict(), "b": b.to_dict(), "overlap": out["overlap"], "k": out["k"]}))
        return
    both = {h.row_key for h in a.hits} & {h.row_key for h in b.hits}
    n = max(len(a.hits), len(b.hits))
    rows = []
    for i in range(n):
        ha = a.hits[i] if i < len(a.hits) else None
        hb = b.hits[i] if i < len(b.hits) else None
        rows.append([i + 1, _compare_cell(ha, both), _compare_cell(hb, both)])
    print_rows(["rank", f"{a.index}@g{a.gen}", f"{b.index}@g{b.gen}"], rows, wide=(f"{a.index}@g{a.gen}", f"{b.index}@g{b.gen}"),
               caption=f"overlap@{out['k']}: {out['overlap']:.2f} ('=' marks rows in both)\n"
                       f"A: {_search_caption(a)}\nB: {_search_caption(b)}")


def _compare_cell(h, both: set) -> str:
    return "" if h is None else f"{'=' if h.row_key in both else ' '} {h.row_key} {h.score:.3f}  {h.text}"


def _gen_arg(gen: str) -> int:
    g = gen.strip().lower().removeprefix("g")
    if not g.isdigit():
        print(f"error: {gen!r} is not a generation — write g2 or 2", file=sys.stderr)
        raise typer.Exit(2)
    return int(g)


@group.command("list")
def index_list(format: ListFormat = LIST_FORMAT):
    """Every index: its dataset column, active generation and embedder."""
    from app.output import dumps, print_records

    infos = with_lh(lambda lh: lh.indexes())
    if format == ListFormat.json:
        print(dumps([i.to_dict() for i in infos]))
        return
    if not infos:
        print("no indexes yet — build one with `lakehouse embed DATASET --column COL`", file=sys.stderr)
        return
    recs = []
    for i in infos:
        a = i.active
        recs.append({"index": i.name, "source": f"{i.dataset}.{i.column}",
                     "active": f"g{i.active_gen}" if i.active_gen is not None else "-",
                     "generations": len(i.generations), "chunks": a.chunks if a else 0,
                     "embedder": a.embedder if a else "-",
                     "kind": f"{a.kind}" + (f" M{a.m} ef{a.ef_search}" if a and a.kind == "hnsw" else "") if a else "-",
                     "fresh": ("stale: dataset is at v%s, index at v%s" % (i.dataset_version, a.dataset_version))
                     if i.stale else "yes", "auto-refresh": "on" if i.auto_refresh else "off"})
    print_records(recs, ["index", "source", "active", "generations", "chunks", "embedder", "kind", "fresh",
                         "auto-refresh"], "table")


@group.command("refresh")
def index_refresh(
    name: Optional[str] = typer.Argument(None, help="The index to refresh (default: every stale index with auto-refresh on)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Only the indexes over this dataset."),
    format: ListFormat = LIST_FORMAT,
):
    """Re-embed stale indexes with their active generation's settings; the new generation goes live."""
    from app.output import dumps

    with open_lh() as lh:
        outcomes = run_job(lh.refresh, dataset, index=name)
    if format == ListFormat.json:
        print(dumps([o.to_dict() for o in outcomes]))
    elif not outcomes:
        off = [i.name for i in with_lh(lambda lh: lh.indexes()) if i.stale and not i.auto_refresh
               and (dataset is None or i.dataset == dataset)]
        print("every index is up to date" if not off else
              f"nothing refreshed: {', '.join(off)} {'is' if len(off) == 1 else 'are'} stale with auto-refresh "
              "off — name one to refresh it (`lakehouse index refresh NAME`)")
    for o in outcomes if format != ListFormat.json else []:
        print(o.message, file=sys.stderr if o.status in ("failed", "not-live") else sys.stdout)
    raise typer.Exit(1 if any(o.status == "failed" for o in outcomes) else 0)


class Switch(str, Enum):
    on = "on"
    off = "off"


@group.command("auto-refresh")
def index_auto_refresh(name: str = INDEX,
                       state: Switch = typer.Argument(..., help="on: a change to the dataset refreshes the index; off: only `index refresh` does.")):
    """Turn an index's automatic refresh on or off."""
    with_lh(lambda lh: lh.set_auto_refresh(name, state == Switch.on))
    print(f"index {name}: auto-refresh {state.value}")


@group.command("generations")
def index_generations(name: str = INDEX,
                      format: ListFormat = LIST_FORMAT):
    """The generations of an index: embedder, settings, size, build time; * marks the active one."""
    from app.output import dumps, human_bytes, print_records

    info = with_lh(lambda lh: lh.index(name))
    if format == ListFormat.json:
        print(dumps(info.to_dict()))
        return
    recs = [{"gen": f"{'*' if g.active else ' '}g{g.gen}", "status": g.status, "embedder": g.embedder,
             "chunking": f"{g.chunk_size}/{g.overlap}",
             "kind": g.kind + (f" M{g.m} efc{g.ef_construction} ef{g.ef_search}" if g.kind == "hnsw" else ""),
             "chunks": g.chunks, "embedded": g.embedded, "reused": g.reused,
             "dataset_v": g.dataset_version, "size": human_bytes(g.bytes), "build_s": round(g.build_seconds, 1),
             "created": (g.created_at or "")[:19].replace("T", " ")} for g in info.generations]
    print_records(recs, ["gen", "status", "embedder", "chunking", "kind", "chunks", "embedded", "reused",
                         "dataset_v", "size", "build_s", "created"], "table")


@group.command("promote")
def index_promote(name: str = INDEX,
                  gen: str = typer.Argument(..., help="Generation to make active (g2 or 2).")):
    """Make a generation the one searches use (an atomic pointer swap)."""
    g = _gen_arg(gen)
    info = with_lh(lambda lh: lh.promote(name, g))
    print(f"{name}: g{info.active_gen} is active ({info.active.embedder})")


@group.command("rollback")
def index_rollback(name: str = INDEX):
    """Return to the generation that was active before the current one."""
    info = with_lh(lambda lh: lh.rollback(name))
    print(f"{name}: rolled back; g{info.active_gen} is active ({info.active.embedder})")


@group.command("drop")
def index_drop(name: str = INDEX,
               gen: Optional[str] = typer.Argument(None, help="One generation (default: the whole index).")):
    """Drop one generation (not the active one), or the whole index."""
    g = _gen_arg(gen) if gen else None
    print(with_lh(lambda lh: lh.drop_index(name, g)))


@group.command("rebuild")
def index_rebuild(name: str = INDEX,
                  gen: str = typer.Argument(..., help="Generation (g2 or 2).")):
    """Rebuild a generation's vector and HNSW files from its embeddings (the Parquet truth)."""
    n = _gen_arg(gen)
    g = with_lh(lambda lh: run_job(lh.rebuild_index, name, n))
    print(f"{name} g{g.gen}: rebuilt from its {g.chunks:,} stored embeddings")


@group.command("verify")
def index_verify(name: str = INDEX,
                 gen: Optional[str] = typer.Argument(None, help="One generation (default: all).")):
    """Check every file of an index's generations against its recorded size and checksum."""
    g = _gen_arg(gen) if gen else None
    problems = with_lh(lambda lh: lh.verify_index(name, g))
    for p in problems:
        print(f"problem: {p} — `lakehouse index rebuild {name} GEN` rebuilds it from its embeddings",
              file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    print(f"{name}: all files match their checksums")

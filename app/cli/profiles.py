"""Profiles (the `profile` group: list, show, create, edit, delete, activate) and the audit log."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from app.cli.options import LIST_FORMAT, PROFILE, ListFormat
from app.cli.progress import run_job
from app.cli.session import state, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Profiles: who sees which data, with which models; list, create, edit, activate.",
                    rich_markup_mode=None)


def _split(value: str | None) -> list[str] | None:
    return [x.strip() for x in value.split(",") if x.strip()] if value is not None else None


def _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                     m, ef_construction, ef_search, sql_timeout=None, sql_memory_limit=None,
                     min_recall=None, objective=None, memory=None) -> dict:
    hnsw = {k: v for k, v in (("m", m), ("ef_construction", ef_construction), ("ef_search", ef_search))
            if v is not None}
    return {"description": description, "datasets": _split(datasets), "indexes": _split(indexes),
            "chat_model": chat_model, "embedder": embedder, "embed_model": embed_model,
            "keep_alive": keep_alive, "hnsw": hnsw or None, "sql_timeout_s": sql_timeout,
            "sql_memory_limit": sql_memory_limit, "autotune_min_recall": min_recall, "autotune_objective": objective,
            "memory": memory}


_P_DESC = typer.Option(None, "--description", help="What the profile is for.")
_P_DATASETS = typer.Option(None, "--datasets", help="Datasets it may see: names or globs, comma-separated.")
_P_INDEXES = typer.Option(None, "--indexes", help="Indexes it may search: names or globs, comma-separated.")
_P_CHAT = typer.Option(None, "--chat-model", help="Ollama chat model for its asks.")
_P_EMB = typer.Option(None, "--embedder", help="auto, ollama or hashing.")
_P_EMB_MODEL = typer.Option(None, "--embed-model", help="Ollama embedding model.")
_P_KEEP = typer.Option(None, "--keep-alive", help="How long Ollama keeps its models loaded (e.g. 10m).")
_P_M = typer.Option(None, "--m", help="HNSW M for its index builds.")
_P_EFC = typer.Option(None, "--ef-construction", help="HNSW ef_construction for its index builds.")
_P_EFS = typer.Option(None, "--ef-search", help="HNSW ef_search for its searches.")
_P_TIMEOUT = typer.Option(None, "--sql-timeout", help="Its queries' time limit in seconds (0 = none).")
_P_MEM = typer.Option(None, "--sql-memory-limit", help="Its queries' memory limit, e.g. 2GB.")
_P_RECALL = typer.Option(None, "--autotune-min-recall", help="Its autotunes' minimum recall@k, e.g. 0.95.")
_P_OBJ = typer.Option(None, "--autotune-objective", help="What its autotunes lower: p50, p95, build or memory.")
_P_MEMORY = typer.Option(None, "--memory/--no-memory", help="Whether its searches and asks use playbook memory "
                         "(default: [memory] search / ask).")


def _print_profile(p: dict) -> None:
    hnsw = ", ".join(f"{k} {v}" for k, v in p["hnsw"].items()) or "config defaults"
    print(f"profile {p['id']}{' (active)' if p['active'] else ''}: {p['description'] or '-'}")
    print(f"  datasets:    {', '.join(p['datasets'])}")
    print(f"  indexes:     {', '.join(p['indexes'])}")
    print(f"  chat model:  {p['chat_model'] or '[ollama] chat_model'}")
    print(f"  embedder:    {p['embedder'] or '[vectors] embedder'} ({p['embed_model'] or '[ollama] embed_model'})")
    print(f"  keep_alive:  {p['keep_alive'] or '[ollama] keep_alive'}")
    print(f"  hnsw:        {hnsw}")
    if p.get("autotune_min_recall") is not None or p.get("autotune_objective"):
        print(f"  autotune:    min recall {p.get('autotune_min_recall') or '[trials] min_recall'}, "
              f"objective {p.get('autotune_objective') or '[trials] objective'}")
    if p.get("memory") is not None:
        print(f"  memory:      {'on' if p['memory'] else 'off'} for its searches and asks")
    for problem in p["problems"]:
        print(f"  problem: {problem}", file=sys.stderr)


@group.command("list")
def profile_list(format: ListFormat = LIST_FORMAT):
    """Every profile; * marks the active one."""
    from app.output import dumps, print_records

    profiles = with_lh(lambda lh: lh.profiles())
    if format == ListFormat.json:
        print(dumps(profiles))
        return
    print_records([{"profile": ("* " if p["active"] else "  ") + p["id"], "description": p["description"],
                    "datasets": ", ".join(p["datasets"]), "indexes": ", ".join(p["indexes"]),
                    "chat model": p["chat_model"] or "(config)",
                    "problems": "; ".join(p["problems"]) or "-"} for p in profiles],
                  ["profile", "description", "datasets", "indexes", "chat model", "problems"], "table")


@group.command("show")
def profile_show(name: str = PROFILE,
                 format: ListFormat = LIST_FORMAT):
    """One profile's bindings, models and settings (and any binding that points at nothing)."""
    from app.output import dumps

    p = with_lh(lambda lh: lh.profile_show(name))
    print(dumps(p)) if format == ListFormat.json else _print_profile(p)


@group.command("create")
def profile_create(name: str = PROFILE, description: Optional[str] = _P_DESC,
                   datasets: Optional[str] = _P_DATASETS, indexes: Optional[str] = _P_INDEXES,
                   chat_model: Optional[str] = _P_CHAT, embedder: Optional[str] = _P_EMB,
                   embed_model: Optional[str] = _P_EMB_MODEL, keep_alive: Optional[str] = _P_KEEP,
                   m: Optional[int] = _P_M, ef_construction: Optional[int] = _P_EFC, ef_search: Optional[int] = _P_EFS,
                   sql_timeout: Optional[float] = _P_TIMEOUT, sql_memory_limit: Optional[str] = _P_MEM,
                   autotune_min_recall: Optional[float] = _P_RECALL, autotune_objective: Optional[str] = _P_OBJ,
                   memory: Optional[bool] = _P_MEMORY):
    """Create a profile in lakehouse.toml (the rest of the file is kept as it was)."""
    changes = _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                               m, ef_construction, ef_search, sql_timeout, sql_memory_limit,
                               autotune_min_recall, autotune_objective, memory)
    if changes["datasets"] is None:
        print("error: a profile needs --datasets (names or globs it may see, e.g. documents,docs_*)", file=sys.stderr)
        raise typer.Exit(2)
    _print_profile(with_lh(lambda lh: lh.profile_save(name, changes, create=True)))


@group.command("edit")
def profile_edit(name: str = PROFILE, description: Optional[str] = _P_DESC,
                 datasets: Optional[str] = _P_DATASETS, indexes: Optional[str] = _P_INDEXES,
                 chat_model: Optional[str] = _P_CHAT, embedder: Optional[str] = _P_EMB,
                 embed_model: Optional[str] = _P_EMB_MODEL, keep_alive: Optional[str] = _P_KEEP,
                 m: Optional[int] = _P_M, ef_construction: Optional[int] = _P_EFC, ef_search: Optional[int] = _P_EFS,
                 sql_timeout: Optional[float] = _P_TIMEOUT, sql_memory_limit: Optional[str] = _P_MEM,
                 autotune_min_recall: Optional[float] = _P_RECALL, autotune_objective: Optional[str] = _P_OBJ,
                 memory: Optional[bool] = _P_MEMORY):
    """Change some keys of a profile (the others, and the rest of the file, stay)."""
    changes = _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                               m, ef_construction, ef_search, sql_timeout, sql_memory_limit,
                               autotune_min_recall, autotune_objective, memory)
    _print_profile(with_lh(lambda lh: lh.profile_save(name, changes, create=False)))


@group.command("delete")
def profile_delete(name: str = PROFILE):
    """Remove a profile from lakehouse.toml."""
    print(with_lh(lambda lh: lh.profile_delete(name)))


@group.command("activate")
def profile_activate(name: str = PROFILE,
                     wait: bool = typer.Option(False, "--wait", help="Run the activation here, with a progress bar."),
                     job_id: Optional[str] = typer.Option(None, "--job-id", hidden=True)):
    """Make a profile the active one: a background job that loads its indexes and models."""
    import os
    import subprocess
    import uuid

    if wait:
        r = with_lh(lambda lh: run_job(lh.activate, name, job_id=job_id))
        for step, outcome in r["steps"].items():
            print(f"{step}: {outcome}")
        print(f"{r['profile']} is the active profile ({r['seconds']:.2f} s)")
        return
    # the name, and whether this holder may activate it, are checked before anything starts
    lh = with_lh(lambda lh: (lh.check_activate(name), lh.profile_show(name), lh)[2])
    jid = uuid.uuid4().hex[:12]
    logs = lh.root / "logs"
    logs.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "app"]
    for flag, value in (("--home", state.home), ("--config", state.config), ("--remote", state.remote),
                        ("--profile", state.profile)):  # the child acts as the same holder
        if value:
            args += [flag, value]
    args += ["profile", "activate", name, "--wait", "--job-id", jid]
    with open(logs / f"activate-{jid}.log", "wb") as log:
        subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=os.environ.copy())
    print(f"activating {name} as job {jid} — `lakehouse jobs` shows its progress; "
          f"`lakehouse jobs cancel {jid}` stops it")


def audit(of: Optional[str] = typer.Option(None, "--of", metavar="PROFILE",
                                           help="Only this profile's entries (--profile works as that profile, "
                                                "which also shows only its own)."),
          since: Optional[str] = typer.Option(None, "--since", help="30m, 2h, 7d or an ISO time."),
          limit: int = typer.Option(50, "--limit", help="Most entries to show."),
          format: ListFormat = LIST_FORMAT):
    """Every data access — SQL, search, ask, mutation, activation — newest first."""
    from app.output import print_records

    rows = with_lh(lambda lh: lh.audit(of, since, limit))
    for r in rows:
        r["time"] = r["ts"][:19].replace("T", " ")
        r["ms"] = r["duration_ms"]
    print_records(rows, ["time", "profile", "action", "datasets", "statement", "row_count", "ms", "outcome"],
                  format.value)

"""Every action of the workstation, in one table: its keys, its words and where it works.
The app's and the panes' BINDINGS (and so the footer), the help screen, the command
palette and the README's key table are all made from it, so they cannot disagree
(tests/test_tui.py checks the README). Each binding carries an id ("sql.run"), as
Posting's keymaps do, so keys can be rebound by id (Textual's App.set_keymap).

The keys are ones that arrive intact in tmux, xterm, VS Code's terminal and macOS
Terminal: function keys and ctrl+letter. Left out on purpose:
- alt+digit: tmux and most terminals send Alt as an ESC prefix, which Textual reads as the
  macOS Option characters (ESC 1 is "¡"), so it would be typed into the focused box;
- ctrl+h: it is Backspace (0x08) in most terminals; ctrl+b: tmux's prefix; ctrl+k: a
  chord prefix in VS Code.
VS Code's terminal keeps F1, ctrl+p and ctrl+j for itself and macOS needs fn for the
F-keys, so every action there has a ctrl+letter too (ctrl+n cycles the panes, ctrl+r runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.actions import parse
from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    scope: str  # where it works: one of SCOPES (a pane's id for a pane's action)
    keys: str  # Textual key names, comma-separated; "": no key, a command-palette entry only
    action: str | None  # a Textual action; None: the widget's own key, listed here for the help screen
    label: str  # short: the footer
    help: str  # what it does, for the help screen and the README
    footer: bool = False  # shown in the footer while its scope has focus
    priority: bool = False  # before the focused widget (the editor would otherwise take it)
    shown_as: str = ""  # how people write the keys, when it is not just the key names
    command: str = ""  # its title in the command palette (the keys are added); "": not there
    command_help: str = ""  # the palette's line under the title
    to_pane: bool = False  # from the palette: show its pane first
    ops: tuple[str, ...] = ()  # the facade operations it reaches (docs/reach.md, tests/test_reach.py)

    @property
    def id(self) -> str:
        """The binding id: scope and action name ("sql.run", "app.pane.ask")."""
        _, name, params = parse(self.action or "")
        return ".".join([self.scope, name, *map(str, params)])


SCOPES = {"app": "Everywhere", "ask": "Ask", "explore": "Explore", "sql": "SQL", "trials": "Trials",
          "system": "System", "memory": "Memory", "picker": "Pickers (profile, history, names)",
          "reason": "The retire or revise prompt", "ingest": "The ingest screen",
          "search": "The search screen (by meaning)",
          "embed": "The embed screen (a column's embedding settings)", "index": "An index's generations",
          "annotate": "The annotate screen (a dataset's description, owner, tags)",
          "tag": "The tag screen (a column's sensitivity)",
          "profiles": "The profile picker (ctrl+o)", "profile": "The profile editor", "confirm": "A confirmation",
          "cell": "A result cell's value", "help": "The help screen",
          "live": "Watches and schedules (System's w)", "live_add": "The add watch or schedule form",
          "demo": "The demo data screen",
          "grid": "A result grid's row (SQL results, Explore's sample)",
          "record": "The edit or delete prompt", "changes": "A record's history",
          "versions": "A dataset's versions", "restore": "A restore's preview"}

# the tabs in this order; Trials came after System had F4, so it has F5; Memory came next: F6
PANES = [("ask", "Ask", "f1"), ("explore", "Explore", "f2"), ("sql", "SQL", "f3"), ("trials", "Trials", "f4"),
         ("memory", "Memory", "f5"), ("system", "System", "f6")]  # the design card's order: F-keys follow the tabs

ACTIONS: list[Action] = [
    # priority: a binding the focused widget does not take fires only after the key has bubbled
    # up to the app, and by then the keys typed right after it have gone to the old focus
    *[Action("app", key, f"pane('{pid}')", title, f"the {title} pane", priority=True,
             command=f"{title} pane", command_help=f"Show the {title} pane") for pid, title, key in PANES],
    Action("app", "ctrl+n", "next_pane", "Next pane", "the next pane, in the order of the tabs (System → Ask)",
           footer=True, priority=True),
    Action("app", "ctrl+o", "pick_profile", "Profile", "switch profile: 1–9 picks one, or type to filter",
           footer=True, priority=True, command="Switch profile", command_help="Pick a profile and activate it",
           ops=("activate",)),
    Action("app", "ctrl+f", "ingest", "Ingest", "ingest a file: preview its columns and first rows, then ingest it "
           "(a job)", priority=True, command="Ingest a file",
           command_help="A path with completion, a preview, then the ingest with its progress",
           ops=("ingest", "ingest_preview", "refresh")),
    Action("app", "", "new_profile", "New profile", "", command="New profile",
           command_help="Create a profile: the datasets and indexes it sees, its models and HNSW settings",
           ops=("profiles", "profile_save")),
    Action("app", "", "edit_profile", "Edit profile", "", command="Edit profile",
           command_help="Pick a profile; change its datasets, indexes, models or HNSW settings",
           ops=("profiles", "profile_show", "profile_save")),
    Action("app", "", "delete_profile", "Delete profile", "", command="Delete profile",
           command_help="Pick a profile and remove it from lakehouse.toml (asks first)",
           ops=("profiles", "profile_delete")),
    Action("app", "", "index_generations", "Index generations", "", command="Index generations",
           command_help="Pick an index: its generations to promote, roll back, drop, verify or rebuild",
           ops=("indexes", "index")),
    Action("app", "ctrl+p", "command_palette", "palette", "command palette: every action, searchable, with its key",
           priority=True),
    Action("app", "question_mark", "help", "Help", "this list of keys (outside a text box, where ? is text)",
           shown_as="?", command="Help", command_help="Every key"),
    Action("app", "ctrl+q", "quit", "Quit", "quit", footer=True, priority=True),
    Action("app", "", "demo", "Demo data", "", command="Load demo data",
           command_help="Generate and ingest the demo workload: a job with progress that escape cancels",
           ops=("demo",)),

    Action("ask", "enter", None, "Ask", "ask the question in the box (tab reaches the mode: auto, sql or rag)",
           ops=("ask",)),
    Action("ask", "ctrl+r", "open_sql", "Open SQL", "open the last answer's SQL in the SQL pane and run it",
           footer=True, command="Open the last answer's SQL", command_help="Run it in the SQL pane",
           ops=("sql_stream",)),
    Action("ask", "ctrl+l", "open_cited", "Cited rows", "open the last answer's cited rows in the SQL pane",
           footer=True, command="Open the cited rows", command_help="The last answer's source rows, in the SQL pane",
           ops=("rows_query",)),
    Action("ask", "ctrl+s", "remember", "Remember", "remember the last answer as a playbook memory: its question, "
           "endorsing the rows it cited", footer=True, command="Remember the last answer",
           command_help="A memory of the question endorsing the cited rows (Memory pane)", ops=("memory_add",)),

    Action("ask", "ctrl+y", "accept", "Good SQL", "keep the last answer's question → SQL pair as an example "
           "later questions get in their prompt", footer=True, priority=True,
           command="Keep the answer's SQL as an example",
           command_help="Later questions like it get its SQL as an example", ops=("accept",)),

    Action("explore", "enter", "query", "Query it", "query the selected dataset, column or system table in SQL",
           footer=True, priority=True, ops=("sql_stream",)),
    Action("explore", "space", None, "Expand", "expand or collapse a node (a dataset's columns load)"),
    Action("explore", "p", "pin", "Pin/unpin", "pin or unpin the selected dataset", footer=True, ops=("pin", "unpin")),
    Action("explore", "e", "embed", "Embed column", "embed the selected text column into a vector index: a form "
           "with its settings (model, chunking, HNSW), then the embed as a job", footer=True, ops=("embed",)),
    Action("explore", "g", "generations", "Generations", "on an index: its generations, to promote, roll back, "
           "drop, verify or rebuild them", ops=("index",)),
    Action("explore", "r", "reload", "Reload", "reload the catalog", footer=True, ops=("datasets", "indexes")),
    Action("explore", "v", "versions", "Versions", "on a dataset: its versions (when, who, why, rows, what "
           "changed); enter on one previews restoring it", ops=("versions",)),
    Action("explore", "s", "search", "Search", "search by meaning: the selected index, the selected dataset's "
           "first index, or the first one", footer=True, command="Search by meaning",
           command_help="An index, a query, an optional where; hits with their rows; compare two generations",
           to_pane=True, ops=("search", "compare", "rows_query", "indexes", "index")),
    Action("explore", "a", "annotate", "Annotate", "annotate the selected dataset: description (ctrl+g drafts it "
           "with the chat model), owner, tags", command="Annotate dataset",
           command_help="The selected dataset's description, owner and tags; the description drafted by the chat model",
           ops=("describe", "policy", "annotate", "draft_description")),
    Action("explore", "t", "tag", "Tag column", "tag the selected column pii, financial, health or none, with a "
           "reason (its tag now and the evidence shown)", command="Tag column",
           command_help="The selected column's sensitivity, with a reason", ops=("tags", "policy", "tag")),
    Action("explore", "", "compact", "Compact", "", command="Compact dataset",
           command_help="Merge the selected dataset's small files, then vacuum old ones (asks first)", to_pane=True,
           ops=("compact",)),
    Action("explore", "", "resync", "Resync", "", command="Resync catalog",
           command_help="Read the selected dataset's facts again from its table (asks first)", to_pane=True,
           ops=("resync",)),
    Action("explore", "", "policy", "Policies", "", command="Policies binding this profile",
           command_help="What each policy binding the profile does to the datasets it sees, in Explore's detail",
           to_pane=True, ops=("policy",)),

    Action("sql", "ctrl+r,ctrl+enter,ctrl+j", "run", "Run", "run the statement under the cursor, or the selection",
           footer=True, priority=True, command="Run query", command_help="Run the statement under the cursor",
           to_pane=True, ops=("sql_stream",)),
    Action("sql", "ctrl+g", "cancel", "Cancel", "cancel the running query", footer=True, priority=True,
           command="Cancel query", command_help="Interrupt the running query", ops=("interrupt_sql",)),
    Action("sql", "ctrl+l", "history", "History", "query history: type to filter, enter loads one", footer=True,
           priority=True, command="Query history", command_help="Search past queries; enter puts one in the editor",
           to_pane=True),
    Action("sql", "ctrl+space,ctrl+@", "complete", "Complete", "complete a dataset or column name", footer=True,
           priority=True, shown_as="ctrl+space"),
    Action("sql", "ctrl+t", "new_buffer", "New buffer", "a new editor buffer (close one from the command palette)",
           footer=True, priority=True, command="New SQL buffer", command_help="Another editor beside the current one",
           to_pane=True),
    Action("sql", "", "close_buffer", "Close buffer", "", command="Close SQL buffer",
           command_help="Close the editor in front (its text is dropped)", to_pane=True),
    Action("sql", "ctrl+s", "export", "Export", "export the whole result (.csv, .parquet or .json, by the name)",
           footer=True, priority=True, command="Export result",
           command_help="Write the last result to CSV, Parquet or JSON", to_pane=True, ops=("sql_stream",)),
    Action("sql", "enter", None, "Cell value", "on a result cell: its whole value"),
    Action("sql", "c", "copy_cell", "Copy cell", "on a result cell: copy it (through the terminal, OSC 52)"),
    Action("sql", "C", "copy_row", "Copy row", "on a result cell: copy its row, tab-separated", shown_as="shift+c"),
    Action("sql", "escape", None, "Close", "close the export prompt"),

    Action("trials", "r", "run_trial", "Run trial", "run a trial of the index with the profile's HNSW settings "
           "(a job; makes an eval set first when it has none)", footer=True, command="Run a trial",
           command_help="Measure the selected index with the profile's settings", to_pane=True,
           ops=("trial", "eval_create")),
    Action("trials", "a", "autotune", "Autotune", "start an autotune of the index (a job within the budget box)",
           footer=True, command="Start autotune", command_help="Explore HNSW settings and promote the Pareto winner",
           to_pane=True, ops=("autotune",)),
    Action("trials", "s", "stop_autotune", "Stop", "stop the index's running autotune (cancels its job)",
           footer=True, command="Stop autotune", command_help="Cancel the selected index's running autotune",
           to_pane=True, ops=("cancel_job",)),
    Action("trials", "p", "promote", "Promote", "make the highlighted trial point a new active generation "
           "(asks first)", footer=True, command="Promote trial", command_help="The highlighted trial point becomes "
           "the active generation", to_pane=True, ops=("trial_promote",)),
    Action("trials", "b", "rollback", "Roll back", "return the index to its previously active generation",
           footer=True, command="Roll back index", command_help="The generation active before the current one",
           to_pane=True, ops=("rollback",)),
    Action("trials", "c", "compare", "Compare", "overlap@k of the two newest generations on the compare box's text",
           footer=True, command="Compare generations", command_help="Search the two newest generations, overlap@k",
           to_pane=True, ops=("compare",)),
    Action("trials", "g", "generations", "Generations", "the selected index's generations: promote, roll back, "
           "drop, verify, rebuild", footer=True, ops=("index",)),
    Action("trials", "o", "sort", "Sort", "sort the table by the next column (or click a header; again reverses)",
           footer=True),

    Action("system", "x", "cancel_job", "Cancel job", "cancel the highlighted running job (in any process)",
           footer=True, command="Cancel job", command_help="Stop the job highlighted in the System pane",
           to_pane=True, ops=("cancel_job",)),
    Action("system", "t", "retry_job", "Retry job", "retry the highlighted failed, cancelled or interrupted job",
           footer=True, command="Retry job",
           command_help="Run the failed, cancelled or interrupted job highlighted in the System pane again",
           to_pane=True, ops=("retry_job",)),
    Action("system", "r", "refresh", "Refresh", "refresh now (it refreshes every 3 s)", footer=True),
    Action("system", "w", "watches", "Watches", "the watched folders and schedules: pause, resume, run now, "
           "remove, add", footer=True, command="Watches and schedules",
           command_help="Watched folders and scheduled ingests: pause, resume, run now, remove or add one",
           to_pane=True, ops=("watch_list", "schedule_list", "watch_runner")),
    Action("system", "k", "check_contracts", "Check contracts", "check every dataset with a contract against its "
           "rules: kept, or the rules broken and how many rows", footer=True, command="Check contracts",
           command_help="Each dataset's current data against its contract in lakehouse.toml", to_pane=True,
           ops=("check_contract", "contracts")),
    Action("system", "", "retention", "Run retention", "", command="Run retention",
           command_help="Delete log rows older than [retention]'s days (a job); rows removed per table",
           to_pane=True, ops=("run_retention",)),

    Action("memory", "enter", None, "Search", "in the search box: the index's live memories most like its text "
           "(an empty box lists them again)", ops=("memory_search",)),
    Action("memory", "f", "cycle_status", "Status", "show the next status: live, retired, superseded, expired, "
           "pending, all", footer=True),
    Action("memory", "x", "retire", "Retire", "retire the highlighted memory (asks for the reason)", footer=True,
           command="Retire memory", command_help="Retire the memory highlighted in the Memory pane, with a reason",
           to_pane=True, ops=("memory_retire",)),
    Action("memory", "v", "revise", "Revise", "revise the highlighted memory's approach: a new version "
           "(asks for it and the reason)", footer=True, command="Revise memory",
           command_help="A new version of the highlighted memory, with another approach", to_pane=True,
           ops=("memory_revise",)),
    Action("memory", "w", "side_by_side", "With/without", "search the index for the search box's text without and "
           "with memory, side by side: which rows moved and why", footer=True,
           command="Search with and without memory", command_help="Which rows the memory boost moved, and why",
           to_pane=True, ops=("search",)),
    Action("memory", "e", "endorse", "Endorse", "in the side-by-side results: remember the highlighted row as what "
           "worked for that search (a memory endorsing it)", command="Endorse search hit",
           command_help="Remember the highlighted side-by-side row as what worked for that search", to_pane=True,
           ops=("memory_add",)),
    Action("memory", "d", "delete", "Delete", "delete the highlighted memory — one no later version revises "
           "(asks first, and why)", command="Delete memory", command_help="Remove the highlighted memory (its "
           "revised parent is the tip again)", to_pane=True, ops=("memory_delete",)),
    Action("memory", "j", "journal", "Journal", "the highlighted memory's journal: every add, update, revise and "
           "retire of it", command="Memory journal", command_help="What happened to the highlighted memory, oldest "
           "first", to_pane=True, ops=("memory_journal",)),
    Action("memory", "r", "reload", "Reload", "list the memories again", footer=True),

    Action("ingest", "enter", None, "Preview", "in the path box: preview the file (→ completes the path from "
           "the folder's files)"),
    Action("ingest", "ctrl+r", "ingest", "Ingest", "ingest with these settings; a progress bar shows it",
           footer=True, priority=True),
    Action("ingest", "escape", "close", "Cancel/close", "cancel the running ingest (nothing is written), or close",
           footer=True),

    Action("live", "p", "toggle", "Pause/resume", "pause the highlighted watch or schedule, or resume it when "
           "paused (a watch in error: look again)", footer=True,
           ops=("watch_pause", "watch_resume", "schedule_pause", "schedule_resume")),
    Action("live", "r", "run_now", "Run now", "run the highlighted schedule now (a job with progress)", footer=True,
           ops=("schedule_run",)),
    Action("live", "d", "remove", "Remove", "remove the highlighted watch or schedule (asks first; its rows stay)",
           footer=True, ops=("watch_remove", "schedule_remove")),
    Action("live", "a", "add", "Add", "add a watched folder or a schedule: a form", footer=True,
           ops=("watch_add", "schedule_add")),
    Action("live", "escape", "close", "Cancel/close", "cancel the running schedule run, or close", footer=True),

    Action("live_add", "ctrl+r", "add", "Add", "add the watch or schedule (enter in a box does too); a refusal "
           "is its one sentence", footer=True, priority=True),
    Action("live_add", "escape", "close", "Close", "close without adding", footer=True),

    Action("demo", "ctrl+r", "load", "Load", "generate and ingest the demo data; a progress bar shows it",
           footer=True, priority=True),
    Action("demo", "escape", "close", "Cancel/close", "cancel the running load (what is loaded stays), or close",
           footer=True),

    Action("search", "enter", None, "Search", "in the query, where or k box: search (a newer search replaces the "
           "older one's hits); on a hit: open its source row in the SQL pane", ops=("search", "rows_query")),
    Action("search", "ctrl+l", "open_all", "All hits in SQL", "open every hit's source row in the SQL pane",
           footer=True, priority=True, ops=("rows_query",)),
    Action("search", "ctrl+t", "toggle_compare", "Compare", "compare two generations of the index side by side "
           "(overlap@k); again: back to one search", footer=True, priority=True, ops=("compare", "index")),
    Action("search", "escape", "close", "Close", "close (a search still running is dropped)", footer=True),

    Action("embed", "ctrl+r", "embed", "Embed", "embed the column with these settings; a progress bar shows it",
           footer=True, priority=True, ops=("embed",)),
    Action("embed", "escape", "close", "Cancel/close", "cancel the running embed (no generation is made; the chunks "
           "embedded so far are kept for the next run), or close", footer=True),

    Action("index", "p", "promote", "Promote", "make the highlighted generation the active one", footer=True,
           ops=("promote",)),
    Action("index", "b", "rollback", "Roll back", "return to the generation active before the current one",
           footer=True, ops=("rollback",)),
    Action("index", "d", "drop", "Drop", "drop the highlighted generation (asks first; never the active one)",
           footer=True, ops=("drop_index",)),
    Action("index", "v", "verify", "Verify", "check the highlighted generation's files against their checksums",
           footer=True, ops=("verify_index",)),
    Action("index", "r", "rebuild", "Rebuild", "rebuild the highlighted generation's vectors and graph from its "
           "stored embeddings (a job)", footer=True, ops=("rebuild_index",)),
    Action("index", "a", "auto_refresh", "Auto-refresh", "turn the index's automatic refresh on or off",
           footer=True, ops=("set_auto_refresh",)),
    Action("index", "f", "refresh", "Refresh", "re-embed the rows that changed into a new live generation (a job)",
           footer=True, ops=("refresh",)),
    Action("index", "escape", "close", "Cancel/close", "cancel the running rebuild or refresh, or close",
           footer=True),

    Action("annotate", "ctrl+r", "save", "Save", "save the description, owner and tags (a draft saved is yours)",
           footer=True, priority=True, ops=("annotate",)),
    Action("annotate", "ctrl+g", "draft", "Draft", "draft the description with the chat model (from the schema and "
           "untagged columns' values), to edit before saving", footer=True, priority=True, ops=("draft_description",)),
    Action("annotate", "escape", "close", "Close", "close without saving", footer=True),
    Action("tag", "ctrl+r", "save", "Save", "save the chosen tag with the reason (enter in a box too)", footer=True,
           priority=True, ops=("tag",)),
    Action("tag", "escape", "close", "Close", "close without saving", footer=True),

    Action("reason", "enter", None, "Done", "in the last box: retire or revise with what was typed"),
    Action("reason", "escape", "close", "Cancel", "close without changing anything", footer=True),

    Action("picker", "up", "move(-1)", "Up", "move through the list while typing the filter", shown_as="up / down"),
    Action("picker", "down", "move(1)", "Down", ""),  # listed with up
    Action("picker", "enter", None, "Pick", "pick the highlighted entry (in the profile picker 1–9 pick directly)"),
    Action("picker", "escape", "close", "Cancel", "close without picking", footer=True),

    Action("profiles", "ctrl+n", "new_profile", "New", "a new profile: the editor", priority=True,
           ops=("profiles", "profile_save")),
    Action("profiles", "ctrl+e", "edit_profile", "Edit", "edit the highlighted profile", priority=True,
           ops=("profiles", "profile_show", "profile_save")),
    Action("profiles", "ctrl+d", "delete_profile", "Delete", "delete the highlighted profile (asks first; never "
           "the active one)", priority=True, ops=("profiles", "profile_delete")),

    Action("profile", "ctrl+s", "save", "Save", "save the profile into lakehouse.toml (its comments stay); "
           "a refusal is its one sentence and nothing is written", footer=True,  # not priority: after the
           ops=("profile_save",)),  # keys typed before it have reached their box
    Action("profile", "space", None, "Tick", "in the datasets or indexes list: tick or untick the highlighted one"),
    Action("profile", "right", None, "Complete", "in a model box: take the suggested Ollama model name"),
    Action("profile", "tab", "app.focus_next", "Next", "the next box (at once: what is typed right after "
           "it goes there)", priority=True, shown_as="tab / shift+tab"),
    Action("profile", "shift+tab", "app.focus_previous", "Previous", "", priority=True),  # listed with tab
    Action("profile", "escape", "close", "Close", "close without saving", footer=True),

    Action("confirm", "y", "answer(True)", "Yes", "yes, do it", footer=True),
    Action("confirm", "n,escape", "answer(False)", "No", "no, leave it", footer=True, shown_as="n / escape"),

    Action("cell", "c", "copy", "Copy", "copy the value", footer=True),
    Action("cell", "escape,q,enter", "close", "Close", "close", footer=True, shown_as="escape / q / enter"),

    Action("app", "", "dataset_versions", "Versions", "", command="Dataset versions",
           command_help="A dataset's versions and what each changed; preview and restore one with a reason",
           ops=("versions", "restore_preview", "restore")),
    Action("app", "", "record_history", "Record history", "", command="Record history",
           command_help="Who changed the record under the result grid's cursor, when, old → new, why",
           ops=("history",)),
    Action("grid", "e", "edit", "Edit", "edit the cell's value, with an actor and a reason (journaled) — rows "
           "from one keyed dataset, its key in the result", footer=True, ops=("dataset", "update")),
    Action("grid", "d", "delete", "Delete row", "delete the row's record (asks why first; restore brings it back)",
           footer=True, ops=("delete",)),
    Action("grid", "h", "history", "History", "the record's history: who, when, old → new, why", footer=True,
           ops=("history",)),
    Action("record", "enter", None, "Save", "in the reason box: save the new value, or delete the record"),
    Action("record", "escape", "close", "Cancel", "close, changing nothing", footer=True),
    Action("changes", "escape,q", "close", "Close", "close", footer=True, shown_as="escape / q"),
    Action("versions", "enter", None, "Preview", "on a version: what restoring it would change",
           ops=("restore_preview",)),
    Action("versions", "escape,q", "close", "Close", "close", footer=True, shown_as="escape / q"),
    Action("restore", "ctrl+r", "restore", "Restore", "restore this version, with the actor and reason typed: a "
           "new version (history is kept)", footer=True, priority=True, ops=("restore",)),
    Action("restore", "escape", "close", "Back", "back to the versions, restoring nothing", footer=True),

    Action("help", "up,down,pageup,pagedown,home,end", None, "Scroll", "scroll this list",
           shown_as="up/down/pgup/pgdn/home/end"),
    Action("help", "escape,q,question_mark", "close", "Close", "close this screen", footer=True,
           shown_as="escape / q / ?"),
]


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of a scope (the actions with keys)."""
    return [Binding(a.keys, a.action, a.label, show=a.footer, priority=a.priority, id=a.id)
            for a in ACTIONS if a.scope == scope and a.action and a.keys]


def shown(a: Action) -> str:
    """The keys as people write them: F1, ctrl+r / ctrl+enter / ctrl+j."""
    if a.shown_as:
        return a.shown_as
    return " / ".join(name.upper() if re.fullmatch(r"f\d+", name) else name for name in a.keys.split(","))


def key_of(scope: str, action: str) -> str:
    """The keys of an action, for text that names them."""
    return next(shown(a) for a in ACTIONS if a.scope == scope and a.action == action)


def commands() -> list[tuple[Action, str]]:
    """The command palette's entries: (action, title), the title with its keys when it has any."""
    return [(a, f"{a.command} ({shown(a)})" if a.keys else a.command) for a in ACTIONS if a.command]


def listed() -> list[tuple[str, list[tuple[str, str]]]]:
    """(scope title, [(keys, what it does)]) for the help screen and the README, every key
    once; the pane keys share a line."""
    out = []
    for scope, title in SCOPES.items():
        rows = []
        for a in ACTIONS:
            if a.scope != scope or not a.help:
                continue
            if a.action and a.action.startswith("pane("):
                if a.keys == PANES[0][2]:
                    by_key = sorted(PANES, key=lambda p: int(p[2][1:]))
                    names = [title for _, title, _ in by_key]
                    rows.append((" / ".join(key.upper() for _, _, key in by_key),
                                 f"the {', '.join(names[:-1])} and {names[-1]} panes"))
                continue
            rows.append((shown(a), a.help))
        out.append((title, rows))
    return out


def markdown() -> str:
    """The README's key table."""
    lines = ["| where | key | what it does |", "|---|---|---|"]
    for title, rows in listed():
        for keys, text in rows:
            lines.append(f"| {title} | `{keys}` | {text} |")
    return "\n".join(lines)

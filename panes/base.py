"""What every pane has: the facade once it is ready, and a way to rescope."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from core.errors import hint_text
from core.text import inert, inert_in_place

from .keys import bindings


def literal(text: object, style: str = "") -> Content:
    """Untrusted text (a cell, a file or column name, an error quoting input, a model's
    answer) as a widget shows it literally: Content, so no markup is parsed in it (an
    escaped markup string is not exact: `[$var]` and backslashes still act), and inert, so
    no control character or escape sequence reaches the terminal (core.text.inert)."""
    text = inert(str(text), tabs=True)
    return Content.styled(text, style) if style else Content(text)


def line(*parts: object) -> Content:
    """Content assembled from pieces, each literal text, (text, style) or Content made
    here: the pane's own styling, without parsing markup in what it quotes."""
    return Content("").join(p if isinstance(p, Content) else literal(*p) if isinstance(p, tuple) else literal(p)
                            for p in parts)


def label(*parts: object) -> Text:
    """`line` as a rich Text, for the widgets that take one (Tree nodes, DataTable headers)."""
    out = Text()
    for p in parts:
        text, style = p if isinstance(p, tuple) else (p, "")
        out.append(inert(str(text), tabs=True), style=style)
    return out


def said(error: Exception) -> str:
    """An error as the workstation says it: its sentence, then what to do next when it
    carries a hint (core.errors.Hint, in plain words: the TUI has no commands to name)."""
    hint = hint_text(error)
    return f"{error} — {hint}" if hint else str(error)


class TextInput(Input):
    """A one-line input whose pasted text cannot drive the terminal: its control characters
    (a paste can carry anything a web page put on the clipboard) become visible (␛ for ESC)."""

    def _on_paste(self, event) -> None:
        event.text = inert_in_place(event.text)
        super()._on_paste(event)


def inert_table(table):
    """An Arrow table as a DataTable shows it: string values made inert (see core.text),
    each column scanned once in Arrow and rebuilt only when it holds such a character;
    lists and structs are shown by their repr, which escapes them itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def text(t) -> bool:
        return pa.types.is_string(t) or pa.types.is_large_string(t) or (
            hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))

    columns = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type) and text(col.type.value_type):  # an ENUM
            col = col.cast(col.type.value_type)
        if text(col.type) and not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.large_string())  # a string view: scanned and rebuilt like any string
        if text(col.type) and pc.any(pc.match_substring_regex(col, _RE2_CONTROL)).as_py():
            col = pa.chunked_array([pa.array([None if v is None else inert(v) for v in chunk.to_pylist()],
                                             type=col.type) for chunk in col.chunks], type=col.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


# core.text's control characters, in RE2's syntax (what Arrow's regex functions speak)
_RE2_CONTROL = r"[\x00-\x09\x0b-\x1f\x7f-\x{9f}\x{61c}\x{200e}\x{200f}\x{2028}-\x{202e}\x{2066}-\x{2069}]"


def data_table(table, shown=None, **kwargs):
    """A DataTable of untrusted rows: values and column names literal and inert, never markup.
    `shown` is `inert_table(table)` when a worker made it already (a big result: off the event loop)."""
    from textual_fastdatatable import DataTable

    return DataTable(data=shown if shown is not None else inert_table(table),
                     column_labels=[label(n) for n in table.column_names], render_markup=False, **kwargs)


class Pane(Container):
    lh = None

    def ready(self, lh) -> None:
        """The facade is open: fill in."""
        self.lh = lh
        self.rescope()

    def rescope(self) -> None:
        """The profile changed (or first fill): reload what the pane shows."""

    def main_widget(self):
        """The widget that takes focus when the pane is switched to."""
        return None

    def focus_main(self) -> None:
        """Focus the main widget at once, not after the keys already queued (widget.focus()
        waits for them): text typed right after F3 goes to the editor, not the hidden box."""
        widget = self.main_widget()
        if widget is not None:
            self.screen.set_focus(widget)


class FilterPicker(ModalScreen):
    """A list to pick from: type to filter, enter (or a click) picks, escape cancels.
    Subclasses give the heading and `choices(text)`: (label, value) pairs."""

    AUTO_FOCUS = "*"  # the app's own AUTO_FOCUS names a widget this screen does not have
    BINDINGS = bindings("picker")
    heading = ""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, object]] = []

    def compose(self) -> ComposeResult:
        with Container(id="picker"):
            yield Static(literal(self.heading))
            yield TextInput(placeholder="filter", id="picker-filter")
            yield OptionList(id="picker-list")

    def choices(self, text: str) -> list[tuple[str, object]]:
        raise NotImplementedError

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        self.shown = self.choices(text)
        for label, _ in self.shown:  # history, names, profiles: literal text, never markup
            options.add_option(literal(label))
        options.highlighted = 0 if self.shown else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        index = self.query_one(OptionList).highlighted
        self.dismiss(self.shown[index][1] if index is not None and self.shown else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index][1])

    def action_move(self, step: int) -> None:
        """up/down move through the list while typing in the filter."""
        options = self.query_one(OptionList)
        if self.shown:
            options.highlighted = max(0, min(len(self.shown) - 1, (options.highlighted or 0) + step))

    def action_close(self) -> None:
        self.dismiss(None)

"""A column profile drawn (Explore): its figures as text and a textual-plotext chart —
a histogram of the bins for numbers and times, horizontal bars of the top values for
text and booleans. Every bar's count is in the figures too: nothing is told by colour
or length alone. Not a pane: a helper the Explore pane mounts."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.content import Content
from textual_plotext import PlotextPlot

from core.query.column_profile import figures

from .base import line, literal

LABEL = 14  # the widest tick label, in characters (80 columns leave the chart ~38)


def profile_text(p: dict) -> Content:
    """The figures, the first line bold (names and values quoted literally)."""
    first, *rest = figures(p)
    return Content("\n").join([line((first, "bold")), *(literal(t) for t in rest)])


class ProfileChart(PlotextPlot):
    """A PlotextPlot whose figure is built in a thread worker, for its size and theme:
    plotext's build is pure Python (tens of ms for a pane-sized chart), so on the UI
    thread it would stall every key press and timer for as long. Until the figure for the
    current size is there, the last one (or a line saying so) is shown."""

    _drawn: tuple | None = None  # (width, height, plotext theme, the figure as Text)
    _asked: tuple | None = None  # the (width, height, theme) being built

    def render(self):
        key = (self.size.width, self.size.height, self._get_plotext_theme_name(self.app.theme))
        if self._drawn is not None and self._drawn[:3] == key:
            return self._drawn[3]
        if self._asked != key and key[0] > 0 and key[1] > 0:
            self._asked = key
            self.call_later(self.run_worker, partial(self._build, key), thread=True, exclusive=True,
                            group="profile-chart")
        return self._drawn[3] if self._drawn is not None else Text("drawing the chart…")

    def _build(self, key: tuple) -> None:
        width, height, theme = key
        plt = self.plt  # only this worker touches the figure (exclusive): render reads _drawn
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
        plt.theme(theme)
        figure = Text.from_ansi(plt.build())
        self.app.call_from_thread(self._built, key, figure)

    def _built(self, key: tuple, figure: Text) -> None:
        self._drawn = (*key, figure)
        self.refresh()


def chart(p: dict) -> ProfileChart | None:
    """The chart of a profile, or None when there is nothing to draw (an empty or all-null column)."""
    widget = ProfileChart(id="explore-chart")
    widget.styles.min_height = 8
    plt = widget.plt
    bins, top = p.get("histogram"), p.get("top")
    if bins and sum(b["count"] for b in bins):
        n = len(bins)
        plt.bar(list(range(n)), [b["count"] for b in bins], marker="hd", width=1)
        ticks = sorted({0, n // 2, n - 1})
        plt.xticks(ticks, [_short(bins[i]["lo"] if i < n - 1 else bins[i]["hi"]) for i in ticks])
        plt.yticks(*_counts(max(b["count"] for b in bins)))
        plt.title(f"rows per bin · {n} bins")  # short: plotext drops a title wider than the plot
    elif top:
        shown = list(reversed(top))  # the most frequent at the top
        plt.bar([_short(t["value"]) for t in shown], [t["count"] for t in shown], orientation="horizontal",
                marker="hd", width=0.6)
        plt.xticks(*_counts(max(t["count"] for t in top)))
        plt.title(f"rows per value · top {len(top)}")
    else:
        return None
    return widget


def _counts(most: int) -> tuple[list[int], list[str]]:
    """Whole-number ticks for a count axis (plotext's own would say 0.17 of a row)."""
    step = max(1, -(-most // 4))
    ticks = list(range(0, most + step, step))
    return ticks, [f"{t:,}" for t in ticks]


def _short(v) -> str:
    s = "∅" if v is None else str(v).replace("\n", " ")
    return s if len(s) <= LABEL else s[: LABEL - 1] + "…"

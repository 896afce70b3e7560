"""Screens pushed over the main screen: the document viewer, the key help and the document filter."""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import Iterable, Optional, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static, TextArea

from ..display import printable, printable_same_length
from ..types import Extract
from .widgets import describe_document

# TextArea starts a new line at every Unicode line break, but citations count "\n" only. Blanking
# the other breaks (same length, so offsets are unchanged) makes the viewer's line numbers equal
# the cited line numbers.
_OTHER_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def display_text(text: str) -> str:
    """The document as the viewer shows it: same length, so offsets stay valid; only "\\n" breaks
    lines, and the remaining control characters show as signs (ESC as ␛), never reach the terminal."""
    return printable_same_length(_OTHER_BREAKS.sub(lambda m: " \n" if m.group() == "\r\n" else " ", text))


class DocumentText(TextArea):
    """A read-only document with the current cited span (and the other cited spans) highlighted."""

    COMPONENT_CLASSES = {"document-text--span", "document-text--cited"}

    def __init__(self, text: str, cited: Sequence[tuple[int, int]], **kwargs) -> None:
        shown = display_text(text)
        super().__init__(
            shown, read_only=True, soft_wrap=True, show_line_numbers=True, highlight_cursor_line=False, **kwargs
        )
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", shown)]
        self.cited = list(cited)
        self.span: tuple[int, int] | None = None

    def location(self, offset: int) -> tuple[int, int]:
        """(row, column) in the TextArea of a character offset in the document."""
        row = bisect_right(self._line_starts, offset) - 1
        return row, offset - self._line_starts[row]

    def get_line(self, line_index: int) -> Text:
        # The documented hook for extra styling of TextArea lines.
        line = super().get_line(line_index)
        start = self._line_starts[line_index]
        end = start + len(line.plain)
        styles = [(span, "document-text--cited") for span in self.cited]
        if self.span is not None:
            styles.append((self.span, "document-text--span"))
        for (s, e), component in styles:
            if s < end and e > start:
                line.stylize(self.get_component_rich_style(component), max(s, start) - start, min(e, end) - start)
        return line

    def show_span(self, start: int, end: int) -> None:
        self.span = (start, end)
        self.move_cursor(self.location(start), center=True)
        self.refresh()


class ViewerScreen(Screen):
    """A document scrolled to a cited span; n/p step through the other spans cited from it."""

    BINDINGS = [
        Binding("escape", "back", "Back to conversation"),
        Binding("n", "step(1)", "Next cited span"),
        Binding("p", "step(-1)", "Previous cited span"),
        Binding("c", "copy", "Copy quote"),
    ]

    def __init__(self, record, text: str, extracts: Sequence[Extract], index: int) -> None:
        super().__init__()
        self.record = record
        self.text = text
        self.extracts = list(extracts)
        self.index = index

    def compose(self) -> ComposeResult:
        meta = self.record.meta
        title = Content.styled(printable(meta.title or self.record.doc), "bold")
        detail = printable(" · ".join(x for x in (describe_document(meta), meta.archive, self.record.doc) if x))
        yield Static(title + Content.styled(f"\n{detail}", "$text-muted"), id="viewer-title")
        yield Static(id="viewer-status")
        yield DocumentText(self.text, [(e.start, e.end) for e in self.extracts], id="document")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(DocumentText).focus()
        self.call_after_refresh(self.show, self.index)

    @property
    def current(self) -> Extract:
        return self.extracts[self.index]

    def show(self, index: int) -> None:
        self.index = index % len(self.extracts)
        ex = self.current
        self.query_one(DocumentText).show_span(ex.start, ex.end)
        parts = [f"Cited span {self.index + 1} of {len(self.extracts)}", f"line {ex.line}", f"characters {ex.start}–{ex.end}"]
        if ex.speaker:
            parts.append(f"speaker {printable(ex.speaker)}")
        if ex.section == "metadata":
            parts.append("archivist's note")
        self.query_one("#viewer-status", Static).update(" · ".join(parts))

    def action_step(self, delta: int) -> None:
        self.show(self.index + delta)

    def action_copy(self) -> None:
        self.app.copy_extract(self.current)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.dismiss()


def binding_rows(app, bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, description) per action, keys of one action joined: 'down / j'."""
    rows: dict[tuple[str, str], list[str]] = {}
    for b in Binding.make_bindings(bindings):
        if b.description:
            rows.setdefault((b.action, b.description), []).append(app.get_key_display(b))
    return [(" / ".join(keys), desc) for (_, desc), keys in rows.items()]


class HelpScreen(ModalScreen):
    """Every key of the app, grouped by where it works (built from the bindings themselves)."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close help")]

    def __init__(self, groups: Sequence[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as help_box:
            help_box.border_title = "Keys"
            help_box.border_subtitle = "Escape or F1 closes this help"
            for title, bindings in self.groups:
                body = Content.styled(title, "bold $text-primary")
                for keys, desc in binding_rows(self.app, bindings):
                    body += Content("\n") + Content.styled(f"  {keys:<14}", "bold") + Content(desc)
                yield Static(body, classes="help-group")

    def action_close(self) -> None:
        self.dismiss()


class FilterScreen(ModalScreen[Optional[str]]):
    """One line of constraints on documents (`from:1961-04 author:Kennedy kind:letter`); Enter
    applies it (an empty line clears it), Escape leaves the filter as it was. A line that cannot be
    read stays open with the reason under it."""

    BINDINGS = [Binding("escape", "close", "Cancel")]

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box") as box:
            box.border_title = "Filter documents"
            box.border_subtitle = "Enter applies · empty clears · Escape cancels"
            yield Static("from:DATE  to:DATE  author:NAME  recipient:NAME  kind:KIND   (dates YYYY, YYYY-MM or YYYY-MM-DD)")
            yield Input(self.text, placeholder="from:1961-04 to:1961-06 author:Kennedy kind:letter", id="filter-input")
            yield Static("", id="filter-error")

    def on_mount(self) -> None:
        self.query_one("#filter-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from ..constraints import BadConstraint, parse_filter

        event.stop()
        try:
            parse_filter(event.value)
        except BadConstraint as exc:
            self.query_one("#filter-error", Static).update(Content(f"Cannot filter: {printable(str(exc))}"))
            return
        self.dismiss(event.value.strip())

    def action_close(self) -> None:
        self.dismiss(None)

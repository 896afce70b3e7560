"""Widgets of the main screen: extract cards, conversation turns, the document list, the input."""
from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ..display import printable
from ..export import NO_ANSWER
from ..highlight import matched_spans
from ..text import fold_whitespace
from ..types import Answer, Extract

CONFIDENCE_STEPS = 5


def confidence_bar(score: float) -> str:
    filled = max(0, min(CONFIDENCE_STEPS, round(float(score) * CONFIDENCE_STEPS)))
    return "▰" * filled + "▱" * (CONFIDENCE_STEPS - filled)


def confidence_text(score: float) -> str:
    """'confidence ▰▰▰▰▱ 0.79' under an extract."""
    return f"confidence {confidence_bar(score)} {score:.2f}"


def describe_document(meta) -> str:
    """'1962-10-20 · Gromyko → CC CPSU' from a document's metadata (empty parts left out)."""
    parts = []
    if meta.date or meta.date_text:
        parts.append(meta.date or meta.date_text)
    people = " → ".join(p for p in (meta.author, meta.recipient) if p)
    if people:
        parts.append(people)
    return printable(" · ".join(parts))


def card_content(ex: Extract, label: str, question: str) -> Content:
    """The text of one card: quote (folded for display, matched words highlighted), reference, confidence.
    Control characters of the document show as `\\x1b` and the like (qa.display), never reach the terminal."""
    quote = printable(fold_whitespace(ex.quote))
    body = Content(quote)
    for start, end in matched_spans(quote, printable(question)):
        body = body.stylize("bold $text-accent", start, end)
    head = Content.styled(f"{label} ", "bold")
    if ex.speaker:
        head += Content.styled(f"{printable(ex.speaker)}: ", "bold $text-primary")
    reference = f"— {printable(ex.reference())}"
    if ex.section == "metadata":
        reference += " (archivist's note, not the document's text)"
    footer = Content.styled(reference, "$text-muted") + Content.styled(
        f"  {confidence_text(ex.score)}", "$text-secondary"
    )
    return head + body + "\n" + footer


class ExtractCard(Static, can_focus=True):
    """One cited extract. Enter or a click opens the document at the span."""

    BINDINGS = [
        Binding("enter", "open", "Open in document"),
        Binding("c", "copy", "Copy quote"),
        Binding("down,j", "step(1)", "Next card", show=False),
        Binding("up,k", "step(-1)", "Previous card", show=False),
    ]

    class Open(Message):
        def __init__(self, card: "ExtractCard") -> None:
            super().__init__()
            self.card = card

    def __init__(self, extract: Extract, label: str, question: str, closest: bool = False) -> None:
        super().__init__(card_content(extract, label, question), classes="closest" if closest else "")
        self.extract = extract
        self.closest = closest

    def action_open(self) -> None:
        self.post_message(self.Open(self))

    def on_click(self) -> None:
        self.post_message(self.Open(self))

    def action_copy(self) -> None:
        self.app.copy_extract(self.extract)  # type: ignore[attr-defined]

    def action_step(self, delta: int) -> None:
        if delta > 0:
            self.screen.focus_next(ExtractCard)
        else:
            self.screen.focus_previous(ExtractCard)


class TurnView(Vertical):
    """One question and, once it has run, its answer (or why there is none)."""

    def __init__(self, question: str, docs: Optional[list[str]], doc_titles: Optional[list[str]] = None) -> None:
        super().__init__(classes="turn")
        self.question = question
        self.docs = docs
        self.doc_titles = doc_titles or docs or []
        self.answer: Optional[Answer] = None
        self.error: Optional[str] = None
        self.conversation = None  # the Conversation the question was asked in
        self._status = Static("Waiting for the archive to open…", classes="status")

    def compose(self) -> ComposeResult:
        yield Static(Content.styled(f"› {printable(self.question)}", "bold"), classes="question")
        if self.docs:
            n = len(self.docs)
            scope = f"Searched only {n} document{'s' if n != 1 else ''}: " + "; ".join(self.doc_titles)
            yield Static(Content(printable(scope)), classes="scope")
        yield self._status

    def set_status(self, text: str) -> None:
        self._status.update(text)

    def show_answer(self, answer: Answer) -> None:
        self.answer = answer
        self._status.remove()
        widgets: list = []
        if answer.interpreted and answer.interpreted != self.question:
            widgets.append(Static(Content(f"Interpreted as: {printable(answer.interpreted)}"), classes="interpreted"))
        if answer.constraints:
            from ..constraints import describe_json

            widgets.append(Static(Content(f"Documents: {printable(describe_json(answer.constraints))}"), classes="interpreted"))
        shown_question = answer.interpreted or answer.question
        if answer.abstained:
            widgets.append(Static(NO_ANSWER, classes="abstained"))
            if answer.closest:
                widgets.append(Static("Closest passages (not answers):", classes="closest-label"))
            for n, ex in enumerate(answer.closest, 1):
                widgets.append(ExtractCard(ex, f"[closest {n}]", shown_question, closest=True))
        else:
            for n, ex in enumerate(answer.answers, 1):
                widgets.append(ExtractCard(ex, f"[{n}]", shown_question))
        self.mount_all(widgets)

    def show_error(self, message: str) -> None:
        self.error = message
        self._status.update(Content(printable(message, keep="\n")))
        self._status.add_class("error")

    @property
    def extracts(self) -> list[Extract]:
        if self.answer is None:
            return []
        return self.answer.closest if self.answer.abstained else self.answer.answers


class DocumentList(OptionList):
    """Documents of the archive. Selected ones (Enter, space or a click) restrict the search."""

    BINDINGS = [Binding("space", "select", "Select / unselect", show=False)]

    class FilterChanged(Message):
        def __init__(self, selected: list[str]) -> None:
            super().__init__()
            self.selected = selected

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.records: dict[str, object] = {}
        self.selected: list[str] = []  # in the archive's document order

    def set_documents(self, records) -> None:
        self.records = {rec.doc: rec for rec in records}
        self.clear_options()
        options: list = []
        for doc in self.records:
            if options:
                options.append(None)  # a rule between documents
            options.append(Option(self._prompt(doc), id=doc))
        self.add_options(options)

    def _prompt(self, doc: str) -> Content:
        meta = self.records[doc].meta  # type: ignore[attr-defined]
        mark = "[x] " if doc in self.selected else "[ ] "
        prompt = Content.styled(mark, "bold $text-success" if doc in self.selected else "$text-muted")
        prompt += Content.styled(printable(meta.title or doc), "bold")
        detail = describe_document(meta)
        if detail:
            prompt += Content.styled(f"\n{detail}", "italic")
        return prompt

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.toggle(event.option.id)

    def toggle(self, doc: str) -> None:
        chosen = set(self.selected) ^ {doc}
        self.set_selected([d for d in self.records if d in chosen])

    def set_selected(self, docs: list[str]) -> None:
        changed = set(docs) ^ set(self.selected)
        self.selected = list(docs)
        for doc in changed:
            self.replace_option_prompt(doc, self._prompt(doc))
        self.post_message(self.FilterChanged(list(self.selected)))


class QuestionInput(Input):
    """The question box, with a history of asked questions on up/down."""

    BINDINGS = [
        Binding("up", "history(-1)", "Previous question", show=False),
        Binding("down", "history(1)", "Next question", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._pos = 0
        self._draft = ""

    def remember(self, question: str) -> None:
        if not self.history or self.history[-1] != question:
            self.history.append(question)
        self._pos = len(self.history)
        self._draft = ""

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        if self._pos == len(self.history):
            self._draft = self.value
        self._pos = max(0, min(len(self.history), self._pos + delta))
        self.value = self.history[self._pos] if self._pos < len(self.history) else self._draft
        self.cursor_position = len(self.value)


class StatusBar(Horizontal):
    """What the archive is doing while it opens: a message and a progress bar."""

    def compose(self) -> ComposeResult:
        yield Label("Opening the archive…", id="status-text")
        yield ProgressBar(total=None, show_eta=False, id="status-progress")

    def say(self, text: str) -> None:
        self.query_one("#status-text", Label).update(text)

    def start(self, total: Optional[int]) -> None:
        self.query_one(ProgressBar).update(total=total, progress=0)

    def advance(self, n: int) -> None:
        self.query_one(ProgressBar).advance(n)

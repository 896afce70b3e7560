"""The `qa` terminal UI: ask questions, read quoted extracts, open the documents at the cited spans.

Everything slow (opening or refreshing the index, loading the model, answering) runs in Textual
workers, so the screen is up at once and questions typed meanwhile wait in a queue.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Optional

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from ..config import default_corpus
from ..engine import Archive, BadQuestion, validate_question
from ..display import printable
from ..export import citation_text, conversation_markdown
from ..types import Extract
from .screens import FilterScreen, HelpScreen, ViewerScreen
from .widgets import DocumentList, ExtractCard, QuestionInput, StatusBar, TurnView

Opener = Callable[..., Archive]

# Below this width the documents panel starts hidden: the conversation needs the room.
WIDE_TERMINAL = 100

_live_threads: set[threading.Thread] = set()


def background_busy() -> bool:
    """True while a worker thread still runs (e.g. an index build the user quit during)."""
    return any(t.is_alive() for t in _live_threads)


async def in_daemon_thread(fn: Callable, *args, **kwargs):
    """Await `fn(*args, **kwargs)` run in a daemon thread.

    Textual's thread workers use the event loop's executor, which `asyncio.run` joins on exit:
    quitting during an index build would hang until the build ended. A daemon thread lets the
    app quit at once (the index build is crash-safe: an unfinished generation is never published).
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def deliver(setter, value) -> None:
        def set_result() -> None:
            if not future.done():
                setter(value)

        try:
            loop.call_soon_threadsafe(set_result)
        except RuntimeError:  # the app has already closed its loop
            pass

    def run() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting worker
            deliver(future.set_exception, exc)
        else:
            deliver(future.set_result, result)

    thread = threading.Thread(target=run, daemon=True, name=f"qa-{getattr(fn, '__name__', 'work')}")
    _live_threads.add(thread)
    thread.start()
    try:
        return await future
    finally:
        _live_threads.discard(thread)


def describe_open_error(exc: BaseException) -> tuple[str, int]:
    """What to tell the user, and the exit code `qa` ends with (as the CLI's: 2 bad input, 1 other)."""
    from ..documents import CorpusError
    from ..embed import ModelMissing
    from ..index import IndexError_

    if isinstance(exc, CorpusError):
        return str(exc), 2
    if isinstance(exc, ModelMissing):
        return str(exc), 1
    if isinstance(exc, IndexError_):
        return f"the index cannot be used: {exc}", 1
    return f"{type(exc).__name__}: {exc}", 1


class QaApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "qa"

    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_documents", "Documents"),
        Binding("slash", "focus_input", "Ask", key_display="/"),
        Binding("escape", "focus_input", "Back to the question box", show=False),
        Binding("ctrl+f", "edit_constraints", "Filter"),
        Binding("ctrl+r", "clear_filter", "Clear filter"),
        Binding("ctrl+y", "copy", "Copy"),
        Binding("ctrl+s", "export", "Export"),
        Binding("ctrl+n", "new_conversation", "New conversation"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        corpus: Optional[Path | str] = None,
        index_dir: Optional[Path | str] = None,
        *,
        encoder=None,
        opener: Opener = Archive.open,
        export_dir: Optional[Path] = None,
        k: int = 5,
    ) -> None:
        super().__init__()
        self.corpus = Path(corpus) if corpus else default_corpus()
        self.index_dir = Path(index_dir) if index_dir else None
        self.k = k
        self.export_dir = Path(export_dir) if export_dir else Path.cwd()
        self._encoder = encoder
        self._opener = opener
        self.archive: Optional[Archive] = None
        self.open_error: Optional[str] = None
        self.open_exit_code = 0  # what `qa` exits with once the user quits (the archive failed to open)
        self.conversation = None
        self.turns: list[TurnView] = []
        self.filter: list[str] = []
        self.constraints_text = ""  # the constraints on documents as typed (ctrl+f), "" for none
        self._pending: deque[TurnView] = deque()
        self._asking = False
        self.last_export: Optional[Path] = None
        self.notices: list[tuple[str, str]] = []

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None, markup: bool = False) -> None:
        # Messages carry paths and exception text: never parse them as markup, show their control
        # characters (qa.display). Kept in `notices` so what the user was told can be checked.
        message = printable(message, keep="\n")
        self.notices.append((severity, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            yield DocumentList(id="documents")
            with Vertical(id="main"):
                yield Static(id="filter-bar", markup=False)  # titles and typed filters are text, never markup
                with VerticalScroll(id="conversation"):
                    yield Static(
                        "Ask a question about the archive. Answers are verbatim quotes with their references; "
                        "press Enter on a quote to read it in its document, F1 for all keys.",
                        id="welcome",
                    )
        yield QuestionInput(placeholder="Ask a question, then Enter", id="question")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.title = printable(f"qa · {self.corpus.name}")
        self.sub_title = "opening the archive…"
        documents = self.query_one(DocumentList)
        documents.border_title = "Documents"
        documents.display = self.size.width >= WIDE_TERMINAL
        self.query_one(QuestionInput).focus()
        self.open_archive()

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def busy(self) -> bool:
        """Still opening the archive or answering (tests and scripts wait for this to clear)."""
        return (self.archive is None and self.open_error is None) or self._asking or bool(self._pending)

    # -- opening the archive ---------------------------------------------------------------------------
    def _from_thread(self, fn: Callable, *args, **kwargs) -> None:
        try:
            self.call_from_thread(fn, *args, **kwargs)
        except RuntimeError:  # the user quit while the worker was still running
            pass

    def _log(self, message: str) -> None:
        message = printable(message, keep="\n")
        severity = "warning" if message.startswith("warning") or "corrupt" in message else "information"
        self._from_thread(self.notify, message, title="Index", severity=severity)
        self._from_thread(self._say, message)

    def _progress(self, total: int) -> Callable[[int], None]:
        def start() -> None:
            self.status.say(f"Embedding {total:,} sentences and passages…")
            self.status.start(total)

        self._from_thread(start)
        return lambda n: self._from_thread(self._advance, n)

    # Called on the UI thread only (widgets are not thread-safe).
    def _say(self, message: str) -> None:
        self.status.say(message)

    def _advance(self, n: int) -> None:
        self.status.advance(n)

    def _open_blocking(self) -> Archive:
        archive = self._opener(
            self.corpus, self.index_dir, log=self._log, progress_factory=self._progress, encoder=self._encoder
        )
        self._from_thread(self._say, "Loading the language model…")
        archive.encoder.load()
        return archive

    @work(group="open", exit_on_error=False)
    async def open_archive(self) -> None:
        try:
            archive = await in_daemon_thread(self._open_blocking)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            message, self.open_exit_code = describe_open_error(exc)
            self._open_failed(message)
            return
        self._opened(archive)

    def _opened(self, archive: Archive) -> None:
        self.archive = archive
        self._apply_constraints()
        self.conversation = archive.conversation()
        st = archive.state
        self.sub_title = f"{st.documents} documents · {st.passages} passages · index {st.state}"
        self.status.display = False
        self.query_one(DocumentList).set_documents(archive.documents)
        self._pump()

    def _open_failed(self, message: str) -> None:
        self.open_error = message
        self.sub_title = "the archive could not be opened"
        self.status.say(f"Cannot open the archive: {message}")
        self.status.add_class("error")
        self.notify(message, title="Cannot open the archive", severity="error", timeout=30)
        self._pump()

    # -- asking ----------------------------------------------------------------------------------------
    async def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            question = validate_question(event.value)
        except BadQuestion as exc:
            self.notify(str(exc).capitalize(), title="Cannot ask that", severity="error")
            return
        box = self.query_one(QuestionInput)
        box.remember(question)
        box.value = ""
        docs = list(self.filter) or None
        turn = TurnView(question, docs, self._titles(docs) if docs else None)
        self.query_one("#welcome").display = False
        await self.query_one("#conversation").mount(turn)
        self.turns.append(turn)
        self._pending.append(turn)
        self._pump()
        self._scroll_to(turn)

    def _pump(self) -> None:
        """Start the next queued question once the archive is open (one at a time, in order)."""
        if self._asking or not self._pending:
            return
        if self.archive is None:
            if self.open_error is not None:
                while self._pending:
                    self._pending.popleft().show_error(f"Not answered: the archive could not be opened ({self.open_error}).")
            return
        turn = self._pending.popleft()
        turn.conversation = self.conversation
        turn.set_status("Searching…")
        self._asking = True
        self.answer_turn(turn)

    @work(group="ask", exit_on_error=False)
    async def answer_turn(self, turn: TurnView) -> None:
        answer = error = None
        try:
            answer = await in_daemon_thread(turn.conversation.ask, turn.question, k=self.k, docs=turn.docs)
        except BadQuestion as exc:
            error = f"Cannot ask that: {exc}."
        except KeyError as exc:
            error = f"Cannot search: {exc.args[0]}."
        except Exception as exc:  # noqa: BLE001 - shown inline, never a traceback
            error = f"The search failed: {type(exc).__name__}: {exc}"
        finally:
            self._asking = False
        if turn.is_attached:  # not cleared by "new conversation" meanwhile
            if answer is not None:
                turn.show_answer(answer)
            else:
                turn.show_error(error or "The search failed.")
            self.call_after_refresh(self._scroll_to, turn)
        self._pump()

    def _scroll_to(self, turn: TurnView) -> None:
        self.query_one("#conversation").scroll_to_widget(turn, top=True, animate=False)

    # -- document filter ---------------------------------------------------------------------------------
    def _titles(self, docs: list[str]) -> list[str]:
        if self.archive is None:
            return docs
        by_doc = {r.doc: r.meta.title or r.doc for r in self.archive.documents}
        return [printable(by_doc.get(d, d)) for d in docs]

    def on_document_list_filter_changed(self, event: DocumentList.FilterChanged) -> None:
        self.filter = event.selected
        self._show_filter()

    def _show_filter(self) -> None:
        bar = self.query_one("#filter-bar", Static)
        documents = self.query_one(DocumentList)
        n = len(self.filter)
        total = len(self.archive.documents) if self.archive else 0
        key = self.get_key_display(Binding("ctrl+r", "clear_filter"))
        parts = []
        if n:
            parts.append(
                f"searching only {n} of {total} document{'s' if total != 1 else ''} "
                f"({'; '.join(self._titles(self.filter))})"
            )
            documents.border_subtitle = f"{n} selected"
        else:
            documents.border_subtitle = ""
        if self.constraints_text:
            from ..constraints import parse_filter

            parts.append(f"documents {printable(parse_filter(self.constraints_text).describe())}")
        if parts:
            bar.update(f"Filter: {'; '.join(parts)}. {key} clears it.")
        bar.set_class(bool(parts), "-active")
        self.refresh_bindings()

    def action_edit_constraints(self) -> None:
        def done(text: Optional[str]) -> None:
            if text is not None:
                self.constraints_text = text
                self._apply_constraints()
                self._show_filter()

        self.push_screen(FilterScreen(self.constraints_text), done)

    def _apply_constraints(self) -> None:
        """The typed constraints become the archive's standing filter for every question."""
        if self.archive is not None:
            from ..constraints import parse_filter

            c = parse_filter(self.constraints_text) if self.constraints_text else None
            self.archive.filter = c if c else None

    # Actions about the main screen are hidden (and off) while the viewer or help is on top.
    MAIN_SCREEN_ACTIONS = {"toggle_documents", "focus_input", "clear_filter", "edit_constraints", "copy", "export", "new_conversation"}

    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:
        if action in self.MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        if action == "clear_filter":
            return bool(self.filter or self.constraints_text)
        return True

    def action_clear_filter(self) -> None:
        self.constraints_text = ""
        self._apply_constraints()
        self.query_one(DocumentList).set_selected([])
        self._show_filter()

    def action_toggle_documents(self) -> None:
        documents = self.query_one(DocumentList)
        documents.display = not documents.display
        if documents.display:
            documents.focus()
        elif self.focused is None or self.focused is documents:
            self.action_focus_input()

    def action_focus_input(self) -> None:
        self.query_one(QuestionInput).focus()

    # -- cards: open, copy -------------------------------------------------------------------------------
    def on_extract_card_open(self, message: ExtractCard.Open) -> None:
        if self.archive is None:
            return
        ex = message.card.extract
        cited: dict[tuple[int, int], Extract] = {}
        for turn in self.turns:
            for e in turn.extracts:
                if e.doc == ex.doc:
                    cited.setdefault((e.start, e.end), e)
        spans = [cited[key] for key in sorted(cited)]
        index = sorted(cited).index((ex.start, ex.end))
        record = next(r for r in self.archive.documents if r.doc == ex.doc)
        self.push_screen(ViewerScreen(record, self.archive.document_text(ex.doc), spans, index))

    def copy_extract(self, ex: Extract) -> None:
        self.copy_to_clipboard(citation_text(ex))
        self.notify("Copied the quote and its reference.", title="Clipboard")

    def action_copy(self) -> None:
        focused = self.focused
        if isinstance(focused, ExtractCard):
            self.copy_extract(focused.extract)
            return
        for turn in reversed(self.turns):
            if turn.extracts:
                self.copy_extract(turn.extracts[0])
                return
        self.notify("Nothing to copy yet: ask a question first.", severity="warning")

    # -- conversation: export, clear, help ------------------------------------------------------------------
    def _export_path(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"qa-conversation-{stamp}.md"
        n = 2
        while path.exists():
            path = self.export_dir / f"qa-conversation-{stamp}-{n}.md"
            n += 1
        return path

    def action_export(self) -> None:
        answered = [(t.answer, t.docs) for t in self.turns if t.answer is not None]
        if not answered:
            self.notify("Nothing to export yet: ask a question first.", severity="warning")
            return
        path = self._export_path()
        try:
            path.write_text(conversation_markdown(f"qa conversation — {self.corpus.name}", answered), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}", title="Export", severity="error")
            return
        self.last_export = path
        self.notify(f"Conversation saved to {path}", title="Export")

    async def action_new_conversation(self) -> None:
        self._pending.clear()
        for turn in self.turns:
            await turn.remove()
        self.turns.clear()
        if self.archive is not None:
            self.conversation = self.archive.conversation()
        self.query_one("#welcome").display = True
        self.action_focus_input()
        self.notify("Started a new conversation.", title="Conversation")

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(
            HelpScreen(
                [
                    ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "command_palette", "Commands (theme: dark/light)")]),
                    ("Question box", [Binding("enter", "submit", "Ask the question"), *QuestionInput.BINDINGS]),
                    ("Extract card", [*ExtractCard.BINDINGS, Binding("tab", "focus_next", "Next card or panel")]),
                    ("Documents panel", [Binding("space", "select", "Select / unselect (selected ones restrict the search)")]),
                    ("Document viewer", ViewerScreen.BINDINGS),
                ]
            )
        )

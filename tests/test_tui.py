"""The terminal UI driven as a user drives it (Textual's Pilot), over the real seeds index and model."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from qa.engine import Archive
from qa.export import citation_text
from qa.tui.app import QaApp
from qa.tui.screens import DocumentText, HelpScreen, ViewerScreen, display_text
from qa.tui.widgets import DocumentList, ExtractCard, QuestionInput, TurnView, confidence_bar

from .conftest import REPORT, SEEDS, TELEGRAM
from .tui_support import JULY_QUESTION, TELEGRAM_TITLE, ask, quotes_gold, settle

OUT_OF_ARCHIVE = "What is the recommended baking temperature for sourdough bread?"


@pytest.fixture
def make_app(seeds_index, encoder, tmp_path):
    def make(**kwargs) -> QaApp:
        kwargs.setdefault("encoder", encoder)
        kwargs.setdefault("export_dir", tmp_path)
        return QaApp(kwargs.pop("corpus", SEEDS), kwargs.pop("index_dir", seeds_index), **kwargs)

    return make


def cards(app) -> list[ExtractCard]:
    return list(app.query(ExtractCard))


def highlighted_text(area: DocumentText, component: str = "document-text--span") -> tuple[int, str]:
    """(offset of the first highlighted character, highlighted characters) as the viewer draws them."""
    style = area.get_component_rich_style(component)
    first, chars = None, []
    for row in range(area.document.line_count):
        line = area.get_line(row)
        for span in line.spans:
            if span.style == style:
                if first is None:
                    first = area.document.get_index_from_location((row, span.start))
                chars.append(line.plain[span.start : span.end])
    return first, "\n".join(chars)


async def test_first_paint_does_not_wait_and_early_questions_are_queued(make_app, encoder):
    gate = threading.Event()

    def slow_open(*args, **kwargs) -> Archive:
        gate.wait(60)  # the index "takes a while": the UI must already be usable
        return Archive.open(*args, **kwargs)

    app = make_app(opener=slow_open)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.archive is None
        assert app.query_one("#status").display and "Opening" in str(app.query_one("#status-text").render())
        assert app.focused is app.query_one(QuestionInput)
        await pilot.press(*JULY_QUESTION, "enter")
        await pilot.press(*"Who met Dobrynin?", "enter")
        turns = list(app.query(TurnView))
        assert [t.question for t in turns] == [JULY_QUESTION, "Who met Dobrynin?"]
        assert all(t.answer is None for t in turns)
        assert "Waiting for the archive" in str(turns[0]._status.render())
        gate.set()
        await settle(pilot)
        assert all(t.answer is not None for t in turns)
        assert not app.query_one("#status").display
        assert "2 documents" in app.sub_title and "passages" in app.sub_title
        # both went through the one conversation of this session, in the order typed
        assert [t.asked for t in app.conversation.turns] == [JULY_QUESTION, "Who met Dobrynin?"]


async def test_july_question_gets_telegram_quote_with_reference(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        shown = cards(app)
        assert shown, "no extract cards"
        gold = [c for c in shown if quotes_gold(c.extract.quote)]
        assert gold, [c.extract.quote for c in shown]
        ex = gold[0].extract
        assert ex.doc == TELEGRAM
        text = (SEEDS / TELEGRAM).read_text("utf-8")
        assert text[ex.start : ex.end] == ex.quote
        rendered = str(gold[0].render())
        assert " ".join(ex.quote.split()) in rendered
        assert f"{TELEGRAM_TITLE}, 1962-10-20" in rendered and f"{TELEGRAM}, line {ex.line}" in rendered
        assert f"confidence {confidence_bar(ex.score)} {ex.score:.2f}" in rendered
        # the question box keeps a history
        box = app.query_one(QuestionInput)
        assert box.value == ""
        await pilot.press("up")
        assert box.value == JULY_QUESTION
        await pilot.press("down")
        assert box.value == ""


async def test_viewer_highlights_exactly_the_cited_span(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        card = next(c for c in cards(app) if quotes_gold(c.extract.quote))
        ex = card.extract
        card.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        area = viewer.query_one(DocumentText)
        assert area.span == (ex.start, ex.end)
        first, chars = highlighted_text(area)
        assert first == ex.start
        assert chars.replace("\n", "") == display_text(ex.quote).replace("\n", "")
        assert area.document.get_index_from_location(area.cursor_location) == ex.start
        assert area.cursor_location[0] + 1 == ex.line  # viewer line numbers are the cited ones
        status = str(viewer.query_one("#viewer-status").render())
        assert f"line {ex.line}" in status and f"{ex.start}–{ex.end}" in status

        # n / p step through the other spans cited from this document, in document order
        cited = sorted({(e.start, e.end) for c in cards(app) for e in [c.extract] if e.doc == ex.doc})
        i = cited.index((ex.start, ex.end))
        await pilot.press("n")
        assert area.span == cited[(i + 1) % len(cited)]
        assert highlighted_text(area)[0] == area.span[0]
        await pilot.press("p")
        assert area.span == (ex.start, ex.end)

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ViewerScreen)
        assert app.focused is card


async def test_a_click_on_a_card_opens_the_viewer(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        first = cards(app)[0]
        await pilot.click(first)
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ViewerScreen)
        assert app.screen.query_one(DocumentText).span == (first.extract.start, first.extract.end)


async def test_document_filter_restricts_the_search_and_one_key_clears_it(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        documents = app.query_one(DocumentList)
        assert documents.display  # wide terminal: panel shown
        documents.focus()
        report_index = list(documents.records).index(REPORT)
        documents.highlighted = report_index
        await pilot.press("enter")
        await pilot.pause()
        assert app.filter == [REPORT]
        bar = app.query_one("#filter-bar")
        assert bar.has_class("-active") and "only 1 of 2 documents" in str(bar.render())

        await ask(pilot, JULY_QUESTION)
        turn = app.turns[-1]
        assert turn.docs == [REPORT]
        assert turn.extracts and {e.doc for e in turn.extracts} == {REPORT}

        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.filter == [] and not bar.has_class("-active")
        await ask(pilot, JULY_QUESTION)
        assert app.turns[-1].docs is None
        assert TELEGRAM in {e.doc for e in app.turns[-1].extracts}


async def test_export_writes_markdown_with_quotes_and_references(make_app, tmp_path):
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        await pilot.press("ctrl+s")
        await pilot.pause()
        path = app.last_export
        assert path is not None and path.parent == tmp_path and path.suffix == ".md"
        assert any(str(path) in message for _, message in app.notices)
        md = path.read_text("utf-8")
        assert f"## {JULY_QUESTION}" in md
        for ex in app.turns[0].extracts:
            assert "\n".join(f"> {line}".rstrip() for line in ex.quote.split("\n")) in md
            assert ex.reference() in md


async def test_copy_puts_quote_and_reference_on_the_clipboard(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        card = cards(app)[1]
        card.focus()
        await pilot.press("c")
        assert app.clipboard == citation_text(card.extract)
        assert app.clipboard.startswith(card.extract.quote) and card.extract.reference() in app.clipboard
        await pilot.press("down")
        assert app.focused is cards(app)[2]


async def test_out_of_archive_question_says_so_and_marks_closest_passages(make_app, archive):
    assert archive.ask(OUT_OF_ARCHIVE).abstained
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, OUT_OF_ARCHIVE)
        turn = app.turns[0]
        assert turn.answer.abstained
        assert "No passage in this archive answers that." in str(turn.query_one(".abstained").render())
        assert all(c.closest and c.has_class("closest") for c in turn.query(ExtractCard))


async def test_abstained_answer_and_interpretation_are_shown_as_such(make_app, archive):
    """How an abstention and a rewritten follow-up look, whatever the engine currently decides."""
    real = archive.ask(JULY_QUESTION, k=2)
    abstained = dataclasses.replace(real, abstained=True, answers=[], closest=real.answers)
    rewritten = dataclasses.replace(real, question="And in July?", interpreted=JULY_QUESTION)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        conversation = app.query_one("#conversation")
        first, second = TurnView("Anything about bread?", None), TurnView("And in July?", None)
        await conversation.mount_all([first, second])
        first.show_answer(abstained)
        second.show_answer(rewritten)
        await pilot.pause()
        assert str(first.query_one(".abstained").render()) == "No passage in this archive answers that."
        assert "Closest passages (not answers)" in str(first.query_one(".closest-label").render())
        closest = list(first.query(ExtractCard))
        assert len(closest) == 2 and all(c.has_class("closest") for c in closest)
        assert "[closest 1]" in str(closest[0].render())
        assert str(second.query_one(".interpreted").render()) == f"Interpreted as: {JULY_QUESTION}"
        assert not first.query(".interpreted")


async def test_new_conversation_starts_a_fresh_engine_conversation(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, JULY_QUESTION)
        old = app.conversation
        assert len(old.turns) == 1
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not app.query(TurnView) and app.turns == []
        assert app.conversation is not old and app.conversation.turns == []
        await ask(pilot, "Who met Dobrynin?")
        assert len(app.conversation.turns) == 1 and len(old.turns) == 1


async def test_bad_questions_are_refused_with_a_notification(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # empty
        box = app.query_one(QuestionInput)
        box.value = "x" * 2001
        await pilot.press("enter")
        await pilot.pause()
        assert not app.query(TurnView)
        errors = [m for severity, m in app.notices if severity == "error"]
        assert any("empty" in m for m in errors) and any("too long" in m for m in errors)
        assert box.value == "x" * 2001  # kept, so it can be edited


async def test_empty_corpus_is_reported_and_the_app_keeps_running(make_app, tmp_path):
    (tmp_path / "empty").mkdir()
    app = make_app(corpus=tmp_path / "empty", index_dir=tmp_path / "idx")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.archive is None and "no readable" in app.open_error
        assert app.open_exit_code == 2  # `qa` then exits 2, as the CLI does for an unusable corpus
        assert "Cannot open the archive" in str(app.query_one("#status-text").render())
        await ask(pilot, "anything?")
        assert "could not be opened" in app.turns[0].error
        assert app.is_running


async def test_corrupt_index_is_rebuilt_with_a_notice(make_app, encoder, tmp_path):
    from qa.index import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text(
        "The harbour master logged three freighters in March. Their cargo was declared as machinery.\n", "utf-8"
    )
    index_dir = tmp_path / "idx"
    build(corpus, index_dir, encoder)
    gen = index_dir / (index_dir / "CURRENT").read_text("utf-8").strip()
    (gen / "manifest.json").write_text("{ not json", "utf-8")
    app = make_app(corpus=corpus, index_dir=index_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.archive is not None
        assert any("corrupt" in m for _, m in app.notices)
        await ask(pilot, "How many freighters came in March?")
        assert "three freighters" in app.turns[0].extracts[0].quote


async def test_help_lists_every_key(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(w.render()) for w in app.screen.query(".help-group"))
        for words in ("Help", "Documents", "Clear filter", "Copy", "Export", "New conversation", "Quit",
                      "Open in document", "Next cited span", "Previous question"):
            assert words in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await settle(pilot)


def test_qa_without_a_command_routes_options_to_the_default_front_end(tmp_path, capsys):
    """`qa --corpus DIR` is accepted (TUI on a terminal, prompt when piped, as here)."""
    from qa.cli import build_parser, cmd_tui, main

    assert main(["--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    assert build_parser().parse_args(["tui", "--corpus", "x"]).func is cmd_tui

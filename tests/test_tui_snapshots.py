"""Snapshots (pytest-textual-snapshot) of the main screen answering, the document viewer and the help.

Fixed terminal sizes, no clock, no durations, workers awaited. The answer comes from the real
engine, so a change in ranking changes the main and viewer snapshots: review the diff in the report,
then accept it with `pytest tests/test_tui_snapshots.py --snapshot-update`. Confidence figures are
masked (same width): their last digit may differ between CPUs, the extracts and their order may not
(tests/test_determinism.py); tests/test_tui.py checks the figures themselves.
"""
from __future__ import annotations

import pytest

from qa.tui import widgets
from qa.tui.app import QaApp
from qa.tui.widgets import ExtractCard, QuestionInput

from .conftest import SEEDS
from .tui_support import JULY_QUESTION, ask, quotes_gold, settle


@pytest.fixture(autouse=True)
def masked_confidence(monkeypatch):
    real = widgets.confidence_text(0.5)
    monkeypatch.setattr(widgets, "confidence_text", lambda score: "confidence ***** *.**")
    assert len(widgets.confidence_text(0.5)) == len(real)


@pytest.fixture
def app(seeds_index, encoder, tmp_path):
    return QaApp(SEEDS, seeds_index, encoder=encoder, export_dir=tmp_path)


async def answer_july(pilot) -> None:
    pilot.app.query_one(QuestionInput).cursor_blink = False
    await ask(pilot, JULY_QUESTION)


async def open_gold_card(pilot) -> None:
    await answer_july(pilot)
    card = next(c for c in pilot.app.query(ExtractCard) if quotes_gold(c.extract.quote))
    card.focus()
    await pilot.press("enter")
    await pilot.pause()


async def show_help(pilot) -> None:
    pilot.app.query_one(QuestionInput).cursor_blink = False
    await settle(pilot)
    await pilot.press("f1")


def test_main_screen_with_answer(snap_compare, app):
    assert snap_compare(app, terminal_size=(120, 40), run_before=answer_july)


def test_main_screen_with_answer_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=answer_july)


def test_document_viewer(snap_compare, app):
    assert snap_compare(app, terminal_size=(100, 30), run_before=open_gold_card)


def test_help_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_help)

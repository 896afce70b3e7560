"""Ingestion: both archive header layouts, sidecars, headerless files, bad files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.documents import decode, iso_date, load_document, parse_header, people_from_title
from qa.passages import split_document

from .conftest import REPORT, SEEDS, TELEGRAM


def test_wilson_web_dump_header():
    doc = load_document(SEEDS, SEEDS / REPORT)
    m = doc.meta
    assert m.title == "The Polyansky Report on Khrushchev’s Mistakes in Foreign Policy, October 1964"
    assert m.date == "1964-10"
    assert m.author == "Polyansky"
    assert m.translator == "Svetlana Savranskaya"
    assert m.archive.startswith("History and Public Policy Program Digital Archive, Library of Congress")
    assert m.summary.startswith("Excerpt from a report prepared by Politiburo member Dmitry Polyansky")
    assert doc.text[m.body_start:].startswith("Now on to the Caribbean Crisis.")


def test_markdown_export_header():
    doc = load_document(SEEDS, SEEDS / TELEGRAM)
    m = doc.meta
    assert m.title == "Telegram from Soviet Foreign Minister Gromyko to the CC CPSU"
    assert m.date == "1962-10-20"
    assert (m.author, m.recipient) == ("Gromyko", "CC CPSU")
    assert m.translator == "Mark H. Doctoroff"
    assert m.archive == "Wilson Center Digital Archive, AVP RF, copy courtesy of NSA"
    assert m.language == "Russian"
    assert m.summary.startswith("Gromyko relays the results of a meeting with Dean Rusk")
    assert doc.text[m.body_start:].startswith("On October 18 a conversation with Rusk took place.")


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Telegram from Soviet Foreign Minister Gromyko to the CC CPSU", ("Gromyko", "CC CPSU")),
        ("Letter from Khrushchev to President Kennedy", ("Khrushchev", "President Kennedy")),
        ("The Polyansky Report on Khrushchev’s Mistakes in Foreign Policy", ("Polyansky", None)),
        ("Memorandum of Conversation", (None, None)),
    ],
)
def test_people_from_title(title, expected):
    assert people_from_title(title) == expected


@pytest.mark.parametrize(
    "text, iso",
    [("October 20, 1962", "1962-10-20"), ("October, 1964", "1964-10"), ("14 October 1964", "1964-10-14"),
     ("1962-10-27", "1962-10-27"), ("no date here", None)],
)
def test_iso_date(text, iso):
    assert iso_date(text) == iso


def test_boilerplate_is_never_indexed_and_metadata_is_marked():
    doc = load_document(SEEDS, SEEDS / REPORT)
    sentences, passages = split_document(doc)
    texts = {doc.text[s.start:s.end]: s.section for s in sentences}
    for junk in ("Search in", "get citation", "share document", "English HTML", "Citation"):
        assert junk not in texts
    translated = [t for t in texts if t.startswith("Translated by Svetlana Savranskaya")]
    assert translated and texts[translated[0]] == "metadata"
    assert texts["Now on to the Caribbean Crisis."] == "body"
    assert all(s.section == "metadata" for s in sentences if s.start < doc.meta.body_start)
    assert passages and all(doc.text[p.start:p.end].strip() for p in passages)


def test_sentences_carry_exact_offsets_and_line_numbers():
    doc = load_document(SEEDS, SEEDS / TELEGRAM)
    sentences, _ = split_document(doc)
    for s in sentences:
        assert doc.text[s.start:s.end] == doc.text[s.start:s.end].strip()
        assert s.line == doc.text.count("\n", 0, s.start) + 1
    july = next(s for s in sentences if doc.text[s.start:s.end].startswith("The situation has rapidly worsened"))
    assert doc.text[july.start:july.end] == "The situation has rapidly worsened, declared Rusk, since July of this year."


def test_headerless_file_is_titled_by_name(tmp_path):
    (tmp_path / "plain notes.txt").write_text("Khrushchev spoke first. Then Mikoyan answered.", encoding="utf-8")
    doc = load_document(tmp_path, tmp_path / "plain notes.txt")
    assert doc.meta.title == "plain notes"
    assert doc.meta.body_start == 0
    assert [doc.text[s.start:s.end] for s in split_document(doc)[0]] == ["Khrushchev spoke first.", "Then Mikoyan answered."]


def test_sidecar_overrides_fields(tmp_path):
    (tmp_path / "a.txt").write_text("Some text of a cable.", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text(json.dumps({"title": "Cable 17", "date": "March 3, 1961", "author": "Thompson"}))
    m = load_document(tmp_path, tmp_path / "a.txt").meta
    assert (m.title, m.date, m.author) == ("Cable 17", "1961-03-03", "Thompson")


def test_bom_is_tolerated_and_offsets_follow_the_decoded_text(tmp_path):
    (tmp_path / "b.txt").write_bytes("\ufeffFirst sentence here. Second one.".encode("utf-8"))
    doc = load_document(tmp_path, tmp_path / "b.txt")
    assert doc.text.startswith("First")


@pytest.mark.parametrize(
    "raw, reason",
    [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"caf\xe9 au lait", "not valid UTF-8")],
)
def test_bad_bytes_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        decode(raw)


def test_markdown_heading_is_the_title():
    m = parse_header("# Minutes of the Presidium\n\nThe meeting opened at ten.", "m.md")
    assert m.title == "Minutes of the Presidium"

"""Document anatomy: kind, people, dateline, header fields, furniture, relayed texts, notes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.anatomy import asks_for_structure, dateline, person_from_phrase, title_parties
from qa.documents import corpus_files, load_document
from qa.passages import split_document
from qa.speakers import attribute_speakers

SHARED = Path(__file__).resolve().parents[2] / "shared"
ARCHIVES = SHARED / "archives"

LETTER = """Letter From Chairman Khrushchev to President Kennedy

Moscow, October 26, 1962.

Dear Mr. President:

I have received your letter of October 25. I think you will understand me.

We want peace, and I say so plainly.

Sincerely,

N. Khrushchev

Notes

Source: Department of State, Presidential Correspondence. No classification marking.

[2] The letter was delivered on October 26.
"""

TELEGRAM = """Telegram From the Embassy in the Soviet Union to the Department of State

Moscow, October 26, 1962, 7 p.m.

1101. Following is text of letter from Khrushchev to the President, delivered to the Embassy today. Begin text.

Dear Mr. President:

I have studied your message with great attention. I propose that we both show restraint.

N. Khrushchev

End text.

I believe the letter deserves a prompt answer.

Kohler
"""

MEMCON = """Memorandum of Conversation

Washington, June 3, 1961, 12:45 p.m.

SUBJECT
Berlin

PARTICIPANTS
US
The Secretary
Ambassador Thompson
USSR
Alexey Kosygin, Chairman of the Council of Ministers
Mr. Sukhodrev, Interpreter

The Chairman said that Berlin was a bone in the throat of Europe.

The Secretary replied that the rights of the Western powers were not negotiable.
"""

MARKDOWN = """# Telegram From the Embassy in the Soviet Union to the Department of State

*Moscow, March 4, 1965, 3 p.m.*

**Subject:** Demonstration
**Participants:** Ambassador Foy D. Kohler; Vasily Kuznetsov, Deputy Foreign Minister

2583. Ref: Embtel 2579. I saw Deputy Foreign Minister Kuznetsov at noon and handed him the letter.

Kuznetsov said that he would pass it to the Minister.

Kohler

## Notes

[^1]: Source: Central Files. Confidential; Immediate.
[^2]: Document 98.
"""


def _doc(tmp_path: Path, name: str, text: str, sidecar: dict | None = None):
    (tmp_path / name).write_text(text, encoding="utf-8")
    if sidecar is not None:
        (tmp_path / f"{name}.meta.json").write_text(json.dumps(sidecar), encoding="utf-8")
    doc = load_document(tmp_path, tmp_path / name)
    sentences, _ = split_document(doc)
    attribute_speakers(doc, sentences, {})
    by_text = {doc.text[s.start:s.end]: s for s in sentences}
    return doc, by_text


def test_letter(tmp_path):
    doc, s = _doc(tmp_path, "letter.txt", LETTER)
    m = doc.meta
    assert m.title == "Letter From Chairman Khrushchev to President Kennedy"
    assert (m.kind, m.author, m.recipient) == ("letter", "Khrushchev", "Kennedy")
    assert (m.date, m.place) == ("1962-10-26", "Moscow")
    assert (m.salutation, m.closing, m.signature) == ("Dear Mr. President:", "Sincerely,", "N. Khrushchev")
    for line in ("Moscow, October 26, 1962.", "Dear Mr. President:", "Sincerely,", "N. Khrushchev", "Notes"):
        assert s[line].section == "structure", line
    assert s["I have received your letter of October 25."].section == "body"
    assert s["I have received your letter of October 25."].speaker == "Khrushchev"
    assert s["We want peace, and I say so plainly."].speaker == "Khrushchev"
    # editorial matter is metadata, and nobody's words
    note = s["[2] The letter was delivered on October 26."]
    assert note.section == "metadata" and note.speaker is None
    assert m.source_note.startswith("Department of State, Presidential Correspondence")


def test_telegram_relaying_a_letter(tmp_path):
    doc, s = _doc(tmp_path, "tel.txt", TELEGRAM)
    m = doc.meta
    assert (m.kind, m.author, m.recipient) == ("telegram", "Kohler", "Department of State")
    assert (m.date, m.place, m.time) == ("1962-10-26", "Moscow", "7 p.m")
    assert len(m.embedded) == 1
    e = m.embedded[0]
    assert (e["author"], e["salutation"], e["signature"]) == ("Khrushchev", "Dear Mr. President:", "N. Khrushchev")
    assert doc.text[e["start"]:e["end"]].strip().startswith("Dear Mr. President:")
    assert "I believe" not in doc.text[e["start"]:e["end"]]
    # the letter's "I" is its author; the telegram's "I" is the ambassador
    assert s["I have studied your message with great attention."].speaker == "Khrushchev"
    assert s["I propose that we both show restraint."].speaker == "Khrushchev"
    assert s["I believe the letter deserves a prompt answer."].speaker == "Kohler"
    for line in ("1101.", "Begin text.", "End text.", "Dear Mr. President:", "Kohler", "N. Khrushchev"):
        assert s[line].section == "structure", line


def test_memorandum_of_conversation_with_participants(tmp_path):
    doc, s = _doc(tmp_path, "memcon.txt", MEMCON)
    m = doc.meta
    assert m.kind == "memorandum of conversation" and m.subject == "Berlin"
    assert (m.date, m.place, m.time) == ("1961-06-03", "Washington", "12:45 p.m")
    people = {(p["name"], p["role"], p["side"]) for p in m.participants}
    assert ("Alexey Kosygin", "Chairman of the Council of Ministers", "USSR") in people
    assert ("Thompson", "Ambassador", "US") in people
    assert (None, "Secretary", "US") in people
    assert all(s[line].section == "structure" for line in ("SUBJECT", "PARTICIPANTS", "The Secretary"))
    # a title resolves to the participant who holds it, not to whoever spoke last
    assert s["The Chairman said that Berlin was a bone in the throat of Europe."].speaker == "Kosygin"
    assert s["The Secretary replied that the rights of the Western powers were not negotiable."].speaker != "Kosygin"


def test_markdown_layout(tmp_path):
    doc, s = _doc(tmp_path, "tel.md", MARKDOWN)
    m = doc.meta
    assert (m.kind, m.author, m.date, m.place) == ("telegram", "Kohler", "1965-03-04", "Moscow")
    assert m.subject == "Demonstration"
    assert [p["name"] for p in m.participants] == ["Foy D. Kohler", "Vasily Kuznetsov"]
    assert s["2583."].section == "structure" and s["Ref: Embtel 2579."].section == "structure"
    first = "I saw Deputy Foreign Minister Kuznetsov at noon and handed him the letter."
    assert s[first].section == "body" and s[first].speaker == "Kohler"
    assert s["Kuznetsov said that he would pass it to the Minister."].speaker == "Kuznetsov"
    assert s["[^2]: Document 98."].section == "metadata"


def test_sidecar_overrides_anatomy(tmp_path):
    doc, s = _doc(tmp_path, "tel.txt", TELEGRAM, sidecar={"author": "Thompson", "kind": "cable", "place": "Oslo"})
    m = doc.meta
    assert (m.author, m.kind, m.place) == ("Thompson", "cable", "Oslo")
    assert s["I believe the letter deserves a prompt answer."].speaker == "Thompson"
    assert s["I propose that we both show restraint."].speaker == "Khrushchev"


def test_routing_line_names_the_real_author(tmp_path):
    text = ("Telegram From the Department of State to the Embassy in the Soviet Union\n\n"
            "Washington, March 8, 1965, 6:55 p.m.\n\n"
            "2400. For Ambassador from Ambassador Thompson. I agree with your last two paragraphs.\n\nRusk\n")
    doc, s = _doc(tmp_path, "t.txt", text)
    assert doc.meta.author == "Thompson" and doc.meta.signature == "Rusk"
    assert s["For Ambassador from Ambassador Thompson."].section == "structure"
    assert s["I agree with your last two paragraphs."].speaker == "Thompson"


def test_plain_prose_has_no_furniture(tmp_path):
    doc, s = _doc(tmp_path, "n.txt", "Khrushchev spoke first. Then Mikoyan answered.")
    assert doc.meta.structure_spans == [] and doc.meta.kind is None
    assert all(x.section == "body" for x in s.values())


@pytest.mark.parametrize(
    "title, authors, recipients",
    [
        ("Telegram From the Embassy in the Soviet Union to the Department of State",
         [("Embassy in the Soviet Union", "institution")], [("Department of State", "institution")]),
        ("Memorandum From the Counselor of the Department of State (McGhee) to the Assistant Secretary (Kohler)",
         [("McGhee", "person")], [("Kohler", "person")]),
        ("Telegram From the Mission to the United Nations to the Department of State",
         [("Mission to the United Nations", "institution")], [("Department of State", "institution")]),
        ("Memorandum From Secretary of State Rusk and the Director of the U.S. Information Agency (Murrow) to President Kennedy",
         [("Rusk", "person"), ("Murrow", "person")], [("Kennedy", "person")]),
        ("Letter From Chairman Khrushchev to President Kennedy", [("Khrushchev", "person")], [("Kennedy", "person")]),
        ("Memorandum of Conversation", [], []),
    ],
)
def test_title_parties(title, authors, recipients):
    a, r = title_parties(title)
    assert [(p["name"], p["kind"]) for p in a] == authors
    assert [(p["name"], p["kind"]) for p in r] == recipients


def test_person_phrases():
    assert person_from_phrase("Llewellyn E. Thompson, Ambassador-at-Large")["name"] == "Llewellyn E. Thompson"
    assert person_from_phrase("Ambassador ANATOLIY DOBRYNIN, USSR")["name"] == "Anatoliy Dobrynin"
    assert person_from_phrase("The President") == {"name": None, "role": "President", "kind": "person", "text": "The President"}
    assert person_from_phrase("President Sukarno of Indonesia")["role"] == "President of Indonesia"


@pytest.mark.parametrize(
    "line, place, date",
    [("Moscow, May 27, 1961, 2 p.m.", "Moscow", "May 27, 1961"), ("*Glassboro, New Jersey, June 23, 1967, 11:30 a.m.*",
      "Glassboro, New Jersey", "June 23, 1967"), ("*June 25, 1967, 9:44 p.m.*", None, "June 25, 1967"),
     ("Washington, undated.", "Washington", "undated")],
)
def test_datelines(line, place, date):
    d = dateline(line)
    assert d and (d["place"], d["date_text"]) == (place, date)


def test_prose_is_not_a_dateline():
    assert dateline("On June 19, 1961, Admiral Burke forwarded a memorandum.") is None
    assert dateline("Moscow, May 27, 1961, the day the talks ended.") is None


def test_structure_questions():
    assert asks_for_structure("When was the letter sent?")
    assert asks_for_structure("Who signed the telegram?")
    assert not asks_for_structure("What did Khrushchev write about Berlin?")
    assert not asks_for_structure("When did the Soviet Union resume nuclear testing?")


# --- the development archives (skipped without ../shared) -------------------------------------


def _manifest_agreement(name: str) -> tuple[int, int]:
    root = ARCHIVES / name
    manifest = json.loads((root / "corpus_manifest.json").read_text(encoding="utf-8"))
    docs = manifest["documents"] if isinstance(manifest, dict) else manifest
    n = ok = 0
    for entry in docs:
        if not entry.get("date"):
            continue
        path = root / entry["file"]
        meta = load_document(root / "corpus", path).meta
        n += 1
        ok += meta.date == entry["date"][:10]
    return ok, n


@pytest.mark.parametrize("name", ["frus-1961-63-v05", "frus-1964-68-v14"])
def test_archive_dates_agree_with_the_manifest(name):
    if not (ARCHIVES / name / "corpus_manifest.json").is_file():
        pytest.skip("development archives absent")
    ok, n = _manifest_agreement(name)
    assert n >= 20 and ok / n >= 0.95, (ok, n)


@pytest.mark.parametrize("name", ["frus-1961-63-v05", "frus-1964-68-v14"])
def test_archive_anatomy(name):
    corpus = ARCHIVES / name / "corpus"
    if not corpus.is_dir():
        pytest.skip("development archives absent")
    metas = [load_document(corpus, p).meta for p in corpus_files(corpus)]
    telegrams = [m for m in metas if m.kind == "telegram"]
    assert telegrams and all(m.author and m.place for m in telegrams)
    # every memorandum of conversation with a participants header has its people read
    with_header = [m for m in metas if m.kind == "memorandum of conversation" and "participants" in m.fields]
    assert with_header and all(m.participants for m in with_header)
    # every document with a Notes section has it as metadata, never as body
    noted = [m for m in metas if m.source_note]
    assert len(noted) >= len(metas) // 2
    assert all(m.body_end is not None and any(s >= m.body_end for s, _ in m.metadata_spans) for m in noted)


# --- titles resolved by the archive ------------------------------------------------------------

KENNEDY_LETTER = """Letter From President Kennedy to Chairman Khrushchev

Washington, October 27, 1962.

Dear Mr. Chairman:

I have read your letter with great care. President Kennedy wants an early settlement.

John F. Kennedy
"""

VIENNA = """Memorandum of Conversation

Vienna, June 3, 1961.

PARTICIPANTS
The President
Chairman Khrushchev
President Eisenhower's former interpreter, Mr. Smith

The President said that he wanted to avoid miscalculation.

Mr. Khrushchev said that the Soviet Union would sign a peace treaty. He recalled President Eisenhower's visit.

The President replied that the rights of the West in Berlin were clear.
"""


def test_archive_titles_name_an_office_the_document_lists_without_a_name(tmp_path):
    from qa.speakers import archive_titles

    (tmp_path / "a.txt").write_text(KENNEDY_LETTER, encoding="utf-8")
    (tmp_path / "b.txt").write_text(KENNEDY_LETTER.replace("October 27", "October 28"), encoding="utf-8")
    (tmp_path / "c.txt").write_text(VIENNA, encoding="utf-8")
    docs = [load_document(tmp_path, p) for p in corpus_files(tmp_path)]
    table = archive_titles(docs, {})
    assert table["president"] == "Kennedy" and table["chairman"] == "Khrushchev"
    vienna = docs[2]
    sentences, _ = split_document(vienna)
    attribute_speakers(vienna, sentences, {})
    alone = {vienna.text[s.start:s.end]: s.speaker for s in sentences}
    # without the archive: the office, never the last speaker or a president merely mentioned
    assert alone["The President replied that the rights of the West in Berlin were clear."] == "the President"
    attribute_speakers(vienna, sentences, {}, table)
    got = {vienna.text[s.start:s.end]: s.speaker for s in sentences}
    assert got["The President said that he wanted to avoid miscalculation."] == "Kennedy"
    assert got["The President replied that the rights of the West in Berlin were clear."] == "Kennedy"
    assert got["Mr. Khrushchev said that the Soviet Union would sign a peace treaty."] == "Khrushchev"


def test_index_build_uses_the_archive_titles(tmp_path, encoder):
    from qa import index as index_mod

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(KENNEDY_LETTER, encoding="utf-8")
    (corpus / "c.txt").write_text(VIENNA, encoding="utf-8")
    root = tmp_path / "idx"
    index_mod.build(corpus, root, encoder)
    loaded = index_mod.load(root)

    def speaker(start: str) -> str:
        i = next(i for i in range(loaded.n_sentences) if loaded.sentence_text(i).startswith(start))
        return loaded.sent_speaker[i]

    assert speaker("The President replied") == "the President"  # one letter is not enough
    # a second letter makes "the President" Kennedy across the archive: the memo is re-attributed
    # although it did not change (and keeps its vectors)
    (corpus / "b.txt").write_text(KENNEDY_LETTER.replace("October 27", "October 28"), encoding="utf-8")
    report = index_mod.build(corpus, root, encoder)
    assert report.embedded_documents == ["b.txt"]
    loaded = index_mod.load(root)
    assert speaker("The President replied") == "Kennedy"
    assert loaded.section(next(i for i in range(loaded.n_sentences) if loaded.sentence_text(i) == "PARTICIPANTS")) == "structure"


def test_letter_without_a_title_line(tmp_path):
    text = "Moscow, 26 October 1962\n\nDear Mr. President,\n\nI have received your message.\n\nRespectfully,\n\nN. Khrushchev\n"
    doc, s = _doc(tmp_path, "khrushchev-letter.txt", text)
    m = doc.meta
    assert m.title == "khrushchev-letter" and m.kind == "letter"
    assert (m.date, m.place, m.salutation, m.signature) == ("1962-10-26", "Moscow", "Dear Mr. President,", "N. Khrushchev")
    assert s["I have received your message."].speaker == "Khrushchev"
    assert s["Dear Mr. President,"].section == "structure"


@pytest.mark.parametrize(
    "text, title, first_body",
    [
        ("# Heading\nBody right after the heading.\n", "Heading", "Body right after the heading."),
        ("# Heading\n\nBody after a blank line.\n", "Heading", "Body after a blank line."),
        ("# Heading only\n", "Heading only", None),
    ],
)
def test_a_markdown_heading_is_the_title_whatever_follows_it(tmp_path, text, title, first_body):
    doc, s = _doc(tmp_path, "note.md", text)
    assert doc.meta.title == title
    assert all(x.section != "body" for t, x in s.items() if title in t)  # the heading is never an answer
    if first_body:
        assert s[first_body].section == "body"


def test_transcript_labels_after_lone_cr_line_breaks_name_the_speakers(tmp_path):
    lf = "Transcript\n\nVienna, June 3, 1961\n\nKENNEDY: We want peace in Berlin.\nKHRUSHCHEV: We will sign the treaty.\nKENNEDY: Then it will be a cold winter.\n"
    speakers = {}
    for name, text in (("lf.txt", lf), ("cr.txt", lf.replace("\n", "\r"))):
        _, s = _doc(tmp_path, name, text)
        speakers[name] = [x.speaker for t, x in s.items() if t.startswith(("KENNEDY", "KHRUSHCHEV"))]
    assert speakers["cr.txt"] == speakers["lf.txt"] and len(speakers["lf.txt"]) == 3 and all(speakers["lf.txt"])

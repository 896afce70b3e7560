"""Follow-ups that carry the document in focus, its date and its people: replies written later,
"When was that?", "What else did he say?", "two days later", roles named by title."""
from __future__ import annotations

import pytest

from qa.engine import Archive

from .conftest import TELEGRAM

KHRUSHCHEV = """Letter From Chairman Khrushchev to President Kennedy

Moscow, March 3, 1963.

Dear Mr. President:

I have studied your proposal on the fishing treaty with great attention.
Our fishermen in the northern seas need clear rules for the herring season.
We propose that a joint commission meet in Helsinki to settle the quotas.
The Soviet Government is ready to send its delegation within a month.

Respectfully,

N. Khrushchev
"""
KENNEDY = """Letter From President Kennedy to Chairman Khrushchev

Washington, March 9, 1963.

Dear Mr. Chairman:

Thank you for your letter about the fishing treaty.
I agree that a joint commission should settle the herring quotas, but I prefer that it meet in Oslo rather than Helsinki.
Our delegation will be led by the Under Secretary of the Interior.

Sincerely,

John F. Kennedy
"""
TELEGRAM_TEXT = """Telegram From the Embassy in the Soviet Union to the Department of State

Moscow, April 2, 1963, 6 p.m.

Ambassador saw Gromyko this morning about the airline agreement.
Gromyko said the Soviet side wants landing rights in New York before any other route is opened.
He added that Aeroflot could begin flights in the summer of the same year.
Kohler
"""
MEMCON = """Memorandum of Conversation

Washington, April 4, 1963.

PARTICIPANTS
Secretary Rusk
Ambassador Dobrynin

The Secretary asked about the airline talks.
Ambassador Dobrynin said Moscow expected an answer on the New York landing rights soon.
The Secretary replied that the Civil Aeronautics Board would need several weeks to study the routes.
"""


@pytest.fixture(scope="module")
def letters(tmp_path_factory, encoder):
    root = tmp_path_factory.mktemp("letters")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in [("001_khrushchev-to-kennedy.txt", KHRUSHCHEV), ("002_kennedy-to-khrushchev.txt", KENNEDY),
                       ("003_embassy-telegram.txt", TELEGRAM_TEXT), ("004_rusk-dobrynin.txt", MEMCON)]:
        (corpus / name).write_text(text, encoding="utf-8")
    return Archive.open(corpus, root / "index", encoder=encoder, log=lambda m: None)


def converse(archive, *questions):
    conv = archive.conversation()
    return conv, [conv.ask(q) for q in questions]


def test_reply_is_the_later_letter_of_the_recipient(letters):
    conv, (first, reply) = converse(letters, "What did Khrushchev propose about the fishing quotas?",
                                    "And what did Kennedy reply?")
    assert first.answers[0].doc == "001_khrushchev-to-kennedy.txt"
    assert conv.turns[-1].rule == "reply"
    assert reply.answers[0].doc == "002_kennedy-to-khrushchev.txt"
    assert "Oslo" in reply.answers[0].quote


def test_reply_without_a_name_is_the_recipients_letter(letters):
    _, (_, reply) = converse(letters, "What did Khrushchev propose about the fishing quotas?", "How did he respond?")
    assert reply.answers[0].doc == "002_kennedy-to-khrushchev.txt"


@pytest.mark.parametrize("when", ["When was that?", "When did he write that?", "What date was that?"])
def test_when_was_that_quotes_the_dateline_of_the_document_in_focus(letters, when):
    conv, (_, date) = converse(letters, "What did Khrushchev propose about the fishing quotas?", when)
    assert conv.turns[-1].rule == "date"
    text = letters.document_text("001_khrushchev-to-kennedy.txt")
    ex = date.answers[0]
    assert ex.quote == "Moscow, March 3, 1963." == text[ex.start:ex.end]
    assert ex.doc == "001_khrushchev-to-kennedy.txt" and not date.abstained


def test_when_follows_the_reply_not_the_first_letter(letters):
    _, (_, _, date) = converse(letters, "What did Khrushchev propose about the fishing quotas?",
                               "And what did Kennedy reply?", "When was that?")
    assert date.answers[0].quote == "Washington, March 9, 1963."


def test_when_in_a_telegram_quotes_its_dateline_with_the_time(letters):
    _, (_, date) = converse(letters, "What did Gromyko say about landing rights?", "When did he say that?")
    assert date.answers[0].quote == "Moscow, April 2, 1963, 6 p.m."


def test_a_when_question_with_its_own_topic_is_not_about_the_focus(letters):
    conv, (_, answer) = converse(letters, "What did Gromyko say about landing rights?",
                                 "When could Aeroflot begin flights?")
    assert conv.turns[-1].rule != "date"
    assert "Aeroflot" in answer.answers[0].quote


def test_later_that_day_looks_in_documents_dated_after_the_focus(letters):
    conv, (_, later) = converse(letters, "What did Gromyko say about landing rights?",
                                "Two days later, what did Dobrynin say Moscow expected?")
    assert conv.turns[-1].rule == "later"
    assert later.answers[0].doc == "004_rusk-dobrynin.txt"


def test_role_in_a_follow_up_is_the_participant_of_the_document_in_focus(letters):
    _, (_, answer) = converse(letters, "What did Dobrynin say about the New York landing rights?",
                              "How did the Secretary respond?")
    assert "Rusk" in answer.interpreted
    assert "Civil Aeronautics Board" in answer.answers[0].quote


def test_a_fresh_question_after_a_letter_is_asked_as_typed(letters):
    q = "What did Gromyko say about landing rights?"
    conv, (_, answer) = converse(letters, "What did Khrushchev propose about the fishing quotas?", q)
    assert conv.turns[-1].rule == "fresh" and answer.interpreted == q
    assert [a.quote for a in answer.answers] == [a.quote for a in letters.ask(q).answers]


# -- the seeds ------------------------------------------------------------------------------------

def test_seed_what_else_did_he_say_stays_with_the_speaker(archive):
    _, (first, more) = converse(archive, "What did Rusk say about Japan?", "What else did he say about Japan?")
    assert more.answers and all(a.speaker == "Rusk" for a in more.answers[:1])
    assert more.answers[0].doc == TELEGRAM

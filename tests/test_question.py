"""Reading questions: who they ask about, whether they want someone's words, the answer type."""
from __future__ import annotations

import pytest

from qa.question import answer_type, parse_question

KNOWN = {"rusk": "Rusk", "gromyko": "Gromyko", "kennedy": "Kennedy", "khrushchev": "Khrushchev",
         "the president": "Kennedy", "polyansky": "Polyansky"}


@pytest.mark.parametrize(
    "question, speakers, reply",
    [
        ("What did Rusk say about July?", ["Rusk"], False),
        ("What did Gromyko answer about July?", ["Gromyko"], True),
        ("How did Gromyko respond?", ["Gromyko"], True),
        ("Where is Stalinist policy reflected, according to Rusk?", ["Rusk"], False),
        ("What was Rusk's view on military bases?", ["Rusk"], False),
        ("Did Rusk mention the Monroe Doctrine?", ["Rusk"], False),
        ("What did the President say about Cuba?", ["Kennedy"], False),
        ("Are there American weapons in South Korea?", [], False),
        ("How did Kennedy speak about Cuba?", [], False),
    ],
)
def test_speech_questions_name_their_speaker(question, speakers, reply):
    frame = parse_question(question, KNOWN)
    assert frame.speakers == speakers
    assert frame.wants_speech == bool(speakers)
    assert frame.reply == reply


def test_topic_drops_the_speaker_and_the_framing():
    frame = parse_question("What did Rusk say about American military bases abroad?", KNOWN)
    assert frame.topic_tokens == ["american", "military", "bas", "abroad"]
    assert "Rusk" in frame.mentioned


@pytest.mark.parametrize(
    "question, kind",
    [("How many countries have American missiles?", "number"), ("When did the Korean War start?", "date"),
     ("Who translated the Polyansky report?", "person"), ("Where is Stalinist policy reflected?", "place"),
     ("What did Rusk say about July?", None)],
)
def test_answer_types(question, kind):
    assert answer_type(question) == kind

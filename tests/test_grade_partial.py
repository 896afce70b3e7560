"""`qa grade`: partial credit and contradictions beyond the key's words, on the seeds.

An answer that says less than the key but nothing against it is partial; a yes against a key's no
is wrong; "how long …?" answered without the archive's number is partial; the asked speaker's
words count wherever the sentence names them as its speaker.
"""
from __future__ import annotations

import pytest

from qa.grade import Grader, QuizRow, polarity_conflict, specifics

SECURITY_COUNCIL = "How did Rusk propose to change the Security Council?"
KEY = "Increase its members from 11 to 13."


@pytest.fixture(scope="module")
def grader(archive):
    return Grader(archive)


def grade(grader, question, answer, reference=None):
    return grader.grade(QuizRow(1, question, answer, reference))


def test_an_answer_vaguer_than_the_key_is_partial(grader):
    g = grade(grader, SECURITY_COUNCIL, "He proposed enlarging it.", KEY)
    assert g.verdict == "partial"
    assert g.reasons[0] == "says less than the key: missing 11, 13"


def test_a_vaguer_answer_that_claims_something_else_stays_wrong(grader):
    # A number of its own, an unrelated claim, a denial: not "less than the key" but wrong.
    assert grade(grader, SECURITY_COUNCIL, "He proposed to reduce it to nine members.", KEY).verdict == "incorrect"
    assert grade(grader, SECURITY_COUNCIL, "He proposed abolishing it.", KEY).verdict == "incorrect"
    assert grade(grader, SECURITY_COUNCIL, "He did not want to change it.", KEY).verdict == "incorrect"


def test_yes_against_a_keys_no(grader):
    q = "Did Rusk say there are American nuclear weapons in Japan?"
    key = "No, there are neither missiles nor nuclear weapons there."
    g = grade(grader, q, "Yes, there are some in Japan.", key)
    assert g.verdict == "incorrect"
    assert "contradicts: answer says Yes, key says No" in g.reasons
    assert polarity_conflict("No.", "Yes, England is one of them.")
    assert not polarity_conflict("No, none.", "No: neither missiles nor weapons.")
    assert not polarity_conflict("Nobody knows.", "Yes.")


def test_specifics_are_numbers_and_names_the_question_does_not_give():
    q = "What mark did Rusk give the plan in October?"
    assert specifics("He gave it a C minus in October, said Rusk.", q) == {"c"}
    found = specifics("From 11 to 13, as the Security Council wanted.", q)
    assert {"#11", "#13"} <= found and len(found) == 4  # the numbers and the two words of the name


def test_how_long_answered_without_the_number_is_partial(grader):
    q = "How long did the conversation with Rusk last?"
    g = grade(grader, q, "The conversation continued with some difficulty.")
    assert g.verdict == "partial"
    assert g.reasons == ["partly answers the question: the archive also gives two"]
    assert "two hours" in g.evidence.quote
    assert grade(grader, q, "It lasted about two hours.").verdict == "correct"


def test_reporting_verbs_are_no_claims(grader):
    g = grade(grader, "How long did the conversation with Rusk last?", "He said it continued for about two hours.")
    assert g.verdict == "correct" and g.reasons == ["supported by the archive"]


def test_a_speaker_named_mid_sentence_owns_it(grader):
    subject = grader.evidence._subject_of(("Rusk",))
    assert subject.match("Mr. Gromyko commented that this was so, and Mr. Rusk replied that it was not.")
    assert subject.match("Rusk did not challenge this.")
    # Rusk as the object of somebody else's verb is not Rusk speaking.
    assert not subject.match("Mr. Gromyko told Rusk that it was so.")
    assert not subject.match("Gromyko said that Rusk's reasoning was wrong.")


def test_a_keys_parenthesis_is_a_note_the_answer_need_not_cover(grader):
    q = "In how many countries did Rusk say American missiles and atomic weapons are?"
    key = "Three countries (Gromyko's telegram of October 20, 1962, reporting the October 18 conversation)."
    g = grade(grader, q, "Three countries.", key)
    assert g.verdict == "correct" and g.reasons[0] == "matches the key"
    # The note does not excuse a wrong answer.
    assert grade(grader, q, "Five countries.", key).verdict == "incorrect"


def test_another_name_for_a_named_key_is_wrong_not_vaguer(grader):
    q = "Who did Gromyko say runs things on Cuba?"
    g = grade(grader, q, "The Soviet specialists.", "The Cubans themselves.")
    assert g.verdict == "incorrect"

"""`qa grade` without a key checks who speaks: "What did X say …" is answered by X's words only."""
from __future__ import annotations

import pytest

from qa.grade import Grader, QuizRow

from .conftest import SEEDS, TELEGRAM


@pytest.fixture(scope="module")
def grader(archive):
    return Grader(archive)


def grade(grader, question, answer):
    return grader.grade(QuizRow(1, question, answer))


def assert_verbatim(g):
    text = (SEEDS / g.evidence.doc).read_text("utf-8-sig")
    assert text[g.evidence.start : g.evidence.end] == g.evidence.quote


def test_another_speakers_words_do_not_support_the_answer(grader):
    # Seed quiz 3: Gromyko, not Rusk, brings up the UN Charter in the conversation.
    g = grade(grader, "What did Rusk say Cuba has violated?", "The UN Charter.")
    assert g.verdict == "incorrect" and g.score <= 0.2
    assert g.reasons == ["the archive has this from Gromyko, not Rusk"]
    # The quote proves the reason: Gromyko's sentence, verbatim.
    assert "UN Charter" in g.evidence.quote and g.evidence.speaker == "Gromyko"
    assert g.evidence.doc == TELEGRAM
    assert_verbatim(g)


def test_the_right_speakers_words_still_pass(grader):
    g = grade(grader, "What did Rusk say Cuba has violated?", "The peace on the continent.")
    assert g.verdict == "correct" and g.reasons == ["supported by the archive"]
    assert "violated the peace on the continent" in g.evidence.quote and g.evidence.speaker == "Rusk"
    assert_verbatim(g)


def test_the_same_answer_is_right_for_one_speaker_and_wrong_for_the_other(grader):
    answer = "That their significance is greatly exaggerated."
    rusk = grade(grader, "What did Rusk say about military bases?", answer)
    assert rusk.verdict == "correct"
    gromyko = grade(grader, "What did Gromyko say about military bases?", answer)
    assert gromyko.verdict == "incorrect"
    assert gromyko.reasons == ["the archive has this from Rusk, not Gromyko"]
    assert "greatly exaggerated" in gromyko.evidence.quote and gromyko.evidence.speaker == "Rusk"


def test_a_neighbouring_sentence_by_someone_else_is_no_support(grader):
    # Rusk speaks of Iran; two sentences later, in the same paragraph, Gromyko speaks of its army.
    other = grade(grader, "What did Rusk say about Iran?", "That the Iranian Army is led by American military advisers.")
    assert other.verdict == "incorrect" and other.reasons == ["the archive has this from Gromyko, not Rusk"]
    assert "Iranian Army" in other.evidence.quote
    assert grade(grader, "What did Gromyko say about Iran?", "That the Iranian Army is led by American military advisers.").verdict == "correct"
    own = grade(grader, "What did Rusk say about Iran?", "That Iran recently took a big step towards the Soviet Union.")
    assert own.verdict == "correct"


@pytest.mark.parametrize(
    "question",
    [
        "What is the USA trying to cause in Cuba?",  # nobody's words asked for
        "What did Smith say the USA is trying to cause in Cuba?",  # a speaker the archive does not know
    ],
)
def test_without_a_known_speaker_anyones_words_count(grader, question):
    assert grader.evidence.asked_speakers(question) is None
    g = grade(grader, question, "Hunger.")
    assert g.verdict == "correct" and "cause hunger" in g.evidence.quote


def test_narration_with_the_speaker_as_subject_counts_as_theirs(grader):
    """"Rusk did not challenge this declaration, but ... expressed the thought that ..." is
    attributed to the narrator, but reports Rusk's thought."""
    text = (SEEDS / TELEGRAM).read_text("utf-8-sig")
    end = text.index("use it politically.") + len("use it politically.")
    start = text.rindex("Rusk did not", 0, end)
    finder = grader.evidence
    assert finder.speaker_at(TELEGRAM, start, end) == "Gromyko"
    assert finder.says(TELEGRAM, start, end, ["Rusk"])
    hunger = text.index("The USA is undertaking steps to cause hunger")
    assert not finder.says(TELEGRAM, hunger, hunger + 40, ["Rusk"])

"""Follow-up questions: each rule family, with the negative cases that must stay untouched."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT, SEEDS, TELEGRAM, REPORT


def converse(archive, *questions, k=5):
    conv = archive.conversation()
    answers = [conv.ask(q, k=k) for q in questions]
    return conv, answers


def quotes(answer, n=3):
    return [a.quote for a in answer.answers[:n]]


def test_reply_question_gets_the_other_party_on_the_previous_topic(archive):
    conv, (_, reply) = converse(archive, "What did Rusk say about July?", "And what did Gromyko answer?")
    assert reply.interpreted == "What did Gromyko answer about July?"
    assert conv.turns[-1].rule == "reply"
    assert all(a.speaker == "Gromyko" for a in reply.answers)
    assert "July" in reply.answers[0].quote


@pytest.mark.parametrize("follow", ["How did Gromyko respond?", "And Gromyko's reply?"])
def test_reply_phrasings(archive, follow):
    _, (_, reply) = converse(archive, "What did Rusk say about July?", follow)
    assert reply.interpreted == "What did Gromyko answer about July?"
    assert reply.answers[0].speaker == "Gromyko"


def test_pronoun_resolves_to_the_person_in_focus(archive):
    _, answers = converse(
        archive, "What did Rusk say about July?", "And what did Gromyko answer?", "What did he say about hunger?"
    )
    assert answers[-1].interpreted == "What did Gromyko say about hunger?"
    assert answers[-1].answers[0].quote == "The USA is undertaking steps to cause hunger in Cuba."


def test_elliptical_new_topic_keeps_the_frame(archive):
    _, answers = converse(archive, "What did Rusk say about Japan?", "And South Korea?", "What about England?")
    assert answers[1].interpreted == "What did Rusk say about South Korea?"
    assert "South Korea" in answers[1].answers[0].quote
    assert answers[2].interpreted == "What did Rusk say about England?"
    assert any("England is one of them" in q for q in quotes(answers[2]))


def test_elliptical_new_person_keeps_the_topic(archive):
    _, answers = converse(archive, "What did Gromyko say about July?", "And Rusk?")
    assert answers[1].interpreted == "What did Rusk say about July?"
    assert answers[1].answers[0].speaker == "Rusk"


def test_elliptical_topic_in_a_factual_question(archive):
    _, answers = converse(archive, "Are there American weapons in South Korea?", "And Japan?")
    assert answers[1].interpreted == "Are there American weapons in Japan?"
    assert "Japan" in answers[1].answers[0].quote


def test_more_returns_the_next_extracts(archive):
    _, (first, more) = converse(archive, "What did Rusk say about July?", "more", k=2)
    assert more.interpreted == "What did Rusk say about July?"
    assert more.answers and not set(quotes(first)) & set(quotes(more))
    full = archive.ask("What did Rusk say about July?", k=4)
    assert quotes(first, 2) + quotes(more, 2) == quotes(full, 4)


def test_document_scope_follow_up(archive):
    _, (_, scoped) = converse(archive, "What happened to the missiles in Cuba?", "And in the Gromyko telegram?")
    assert {a.doc for a in scoped.answers} == {TELEGRAM}
    _, (_, scoped) = converse(archive, "What did they say about Cuba?", "in the Polyansky report?")
    assert {a.doc for a in scoped.answers} == {REPORT}


def test_bare_it_refers_to_the_previous_topic_in_the_same_document(archive):
    _, answers = converse(archive, "What did Polyansky say happened to the missiles in Cuba?", "How did the Cubans take it?")
    assert answers[1].interpreted == "How did the Cubans take it [happened to the missiles in Cuba]?"
    assert answers[1].answers[0].quote.startswith("Castro and the Cuban people understood the withdrawal")


def test_next_continues_after_the_previous_citation(archive):
    _, answers = converse(
        archive,
        "What did Polyansky say happened to the missiles in Cuba?",
        "How did the Cubans take it?",
        "What did Khrushchev want to do next?",
    )
    assert "We should sign a mutual assistance treaty with Cuba." in answers[-1].answers[0].quote


@pytest.mark.parametrize(
    "second",
    ["What did Rusk say about American military bases abroad?", "Who translated the Polyansky report?",
     "How is the food situation in China?"],
)
def test_a_new_full_question_resets_the_frame(archive, second):
    conv, (_, answer) = converse(archive, "What did Gromyko say about the UN Charter?", second)
    fresh = archive.ask(second)
    assert answer.interpreted == second and conv.turns[-1].rule == "fresh"
    assert quotes(answer) == quotes(fresh)


def test_pronoun_with_its_own_antecedent_is_left_alone(archive):
    conv, (_, answer) = converse(archive, "What did Rusk say about July?", "What did Khrushchev say when he threatened the US?")
    assert "Khrushchev" in answer.interpreted and "Rusk" not in answer.interpreted


def test_out_of_archive_follow_up_still_abstains(archive):
    _, (_, answer) = converse(archive, "What did Rusk say about July?", "And Vietnam?")
    assert answer.interpreted == "What did Rusk say about Vietnam?"
    assert answer.abstained


def test_chat_in_a_pipe_prints_one_json_answer_per_line(seeds_index):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "chat", "--json", "--corpus", str(SEEDS), "--index", str(seeds_index)],
        input="What did Rusk say about Japan?\nAnd South Korea?\n\n\x01bad\n", capture_output=True, text=True, env=env,
        timeout=300,
    )
    lines = [json.loads(l) for l in proc.stdout.splitlines()]
    assert [l["question"] for l in lines[:2]] == ["What did Rusk say about Japan?", "And South Korea?"]
    assert lines[1]["interpreted"] == "What did Rusk say about South Korea?"
    assert "control characters" in lines[2]["error"]
    assert proc.returncode == 1

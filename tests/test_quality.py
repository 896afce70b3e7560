"""Answer quality on the seeds: speakers, speaker-filtered questions, abstention, the learned weights."""
from __future__ import annotations

import json

import numpy as np
import pytest

from qa.rerank import ABSTAIN_FEATURES, FEATURES, WEIGHTS_PATH, Reranker

from .conftest import TELEGRAM


def test_weight_file_loads_and_matches_the_features():
    data = json.loads(WEIGHTS_PATH.read_text("utf-8"))
    assert data["rank"]["features"] == FEATURES and data["abstain"]["features"] == ABSTAIN_FEATURES
    assert data["script"] == "scripts/train_reranker.py"
    r = Reranker.load()
    assert r.rank.coef.shape == (len(FEATURES),) and 0 < r.abstain_threshold < 1


def test_engine_scores_with_the_learned_weights(archive):
    """The answer scores are exactly the reranker's probabilities for the cited sentences."""
    q = "What did Rusk say about Japan?"
    v = archive.embed_questions([q])[0]
    frame, cands, probs, _ = archive.rank(q, v)
    answer = archive.ask(q, k=1)
    assert answer.answers[0].score == pytest.approx(float(probs.max()), abs=1e-6)
    # Zeroing the weights changes the ranking: the file is really used.
    saved = archive.reranker.rank.coef.copy()
    try:
        archive.reranker.rank.coef = np.zeros_like(saved)
        flat = archive.reranker.probability(np.ones((3, len(FEATURES))))
        assert np.allclose(flat, flat[0])
    finally:
        archive.reranker.rank.coef = saved


@pytest.mark.parametrize(
    "question, speaker, needle",
    [
        ("What did Rusk say about July?", "Rusk", "July"),
        pytest.param(
            "What did Gromyko answer about July?", "Gromyko", "July",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the right sentence ranks first (0.63), but the abstention model, now trained without "
                "the seeds' dev set in-sample, judges the question unanswerable; issue 13's calibration work",
            ),
        ),
        ("What did Rusk say about American military bases abroad?", "Rusk", "bases"),
        ("What did Gromyko say about the UN Charter?", "Gromyko", "UN Charter"),
        ("Where is Stalinist policy reflected, according to Rusk?", "Rusk", None),
        ("What did Khrushchev threaten if the US touched Cuba?", "Khrushchev", "touched Cuba"),
    ],
)
def test_questions_about_someones_words_get_only_their_words(archive, question, speaker, needle):
    answer = archive.ask(question, k=3)
    assert not answer.abstained
    assert [a.speaker for a in answer.answers] == [speaker] * len(answer.answers)
    if needle:
        assert needle in answer.answers[0].quote


def test_rusk_on_july_never_starts_with_gromykos_rebuttal(archive):
    answer = archive.ask("What did Rusk say about July?", k=5)
    assert "July has no significance here." not in answer.answers[0].quote
    assert all(a.doc == TELEGRAM for a in answer.answers)


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Brazil?", "What did Rusk say about Vietnam?",
     "What is the recommended baking temperature for sourdough bread?"],
)
def test_out_of_archive_questions_abstain_with_closest_passages(archive, question):
    answer = archive.ask(question)
    assert answer.abstained and answer.answers == []
    assert answer.closest, "the closest passages are still offered"
    out = answer.to_json()
    assert out["abstained"] is True and out["answers"] == [] and out["closest"]


def test_answerable_questions_do_not_abstain(archive):
    for q in ["Are there American weapons in South Korea?", "Who translated the Polyansky report?",
              "What would missiles do to a country the Soviet Union wanted to help?"]:
        assert not archive.ask(q).abstained, q


def test_translator_question_finds_the_archivists_citation(archive):
    top = archive.ask("Who translated the Polyansky report?").answers[0]
    assert "Svetlana Savranskaya" in top.quote and top.section == "metadata" and top.speaker is None


def test_extracts_grow_only_with_answer_bearing_same_speaker_neighbours(archive):
    for q in ["What did Rusk say about July?", "How is the food situation in China?"]:
        for a in archive.ask(q).answers:
            assert len(a.quote) <= 600
    # No two extracts overlap.
    spans = sorted((a.doc, a.start, a.end) for a in archive.ask("What did Rusk say about July?", k=8).answers)
    for (d1, s1, e1), (d2, s2, e2) in zip(spans, spans[1:]):
        assert d1 != d2 or e1 <= s2


def test_human_output_says_plainly_when_nothing_answers(capsys, seeds_index):
    from qa.cli import main

    from .conftest import SEEDS

    assert main(["ask", "What is the capital of Brazil?", "--corpus", str(SEEDS), "--index", str(seeds_index)]) == 0
    out = capsys.readouterr().out
    assert "No passage in this archive answers that." in out and "Closest passages (not answers)" in out

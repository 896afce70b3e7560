"""The cross-encoder: the committed delta on the packaged model, its ONNX graph, and its training data."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qa import cross_encoder as ce

from .conftest import ROOT, SEEDS, SHARED

# (question, the seeds' sentence that answers it): written for this test, not taken from any dev set.
RELEVANT = [
    ("When did the conversation with Rusk take place?", "On October 18 a conversation with Rusk took place."),
    ("Does the USA intend to send its own armed forces into Cuba?",
     "As the President said, the USA has no intention of intervening with its own armed forces in Cuba."),
    ("Who was not able to penetrate Latin America?",
     "Cde. Khrushchev stated that Stalin was not able to penetrate Latin America, but he succeeded."),
]
MARGIN = 1.0  # logits: the answering sentence must win clearly, not by a hair


@pytest.fixture(scope="module")
def scorer():
    return ce.CrossEncoder.load(threads=1)


def test_delta_is_small_and_fits_the_packaged_model():
    delta = ce.Delta.load()
    assert ce.DELTA_PATH.stat().st_size < 5_000_000
    assert delta.meta["base"].startswith(ce.model_version().split("@")[0])
    assert any(k.endswith(".lora_A") for k in delta.tensors) and "head.weight" in delta.tensors
    # Every LoRA factor pairs with its partner and with a weight of the packaged model.
    for key in delta.tensors:
        if key.endswith(".lora_A"):
            assert key.replace(".lora_A", ".lora_B") in delta.tensors


def test_onnx_graph_agrees_with_the_torch_model(scorer):
    import torch

    delta = ce.Delta.load()
    pairs = [(q, s) for q, s in RELEVANT] + [(RELEVANT[0][0], RELEVANT[1][1]), ("Кто?", "Москва.")]
    tok = ce.tokenizer()
    batch = ce.pad([p for q, s in pairs for p in ce.encode_pairs(tok, q, [s])])
    with torch.no_grad():
        want = ce.torch_model(delta)(*(torch.from_numpy(a) for a in batch)).numpy()
    got = scorer.score_pairs(pairs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=ce.MAX_EXPORT_ERROR)
    # One batched call and one call per pair agree too (padding does not change a score).
    single = np.array([scorer.score(q, [s])[0] for q, s in pairs])
    np.testing.assert_allclose(got, single, atol=ce.MAX_EXPORT_ERROR)


def test_answering_sentence_outscores_the_others(archive, scorer):
    idx = archive.index
    texts = [idx.sentence_text(r) for r in range(idx.n_sentences)]
    for question, answer in RELEVANT:
        assert answer in texts, answer  # the run-time sentence units hold the sentence as written
        rng = np.random.default_rng(0)
        others = [t for t in rng.choice(texts, 40, replace=False) if t != answer]
        scores = scorer.score(question, [answer, *others])
        assert scores[0] > scores[1:].max() + MARGIN, (question, scores[0], others[int(scores[1:].argmax())])


def test_scoring_does_not_import_torch(scorer):
    code = textwrap.dedent(
        """
        import sys
        from qa.cross_encoder import CrossEncoder
        s = CrossEncoder.load(threads=1).score("Who?", ["Rusk said so.", "Nobody."])
        assert s.shape == (2,)
        assert "torch" not in sys.modules, "torch was imported"
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_export_is_refused_when_the_delta_does_not_fit(tmp_path):
    delta = ce.Delta.load()
    bad = ce.Delta(dict(delta.meta), {k: (v[:, :-1] if k == "head.weight" else v) for k, v in delta.tensors.items()})
    path = tmp_path / "bad.npz"
    bad.save(path)
    with pytest.raises(ValueError, match="does not fit"):
        ce.export(ce.Delta.load(path), tmp_path / "bad.onnx")
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*tmp"))


@pytest.mark.skipif(not (SHARED / "eval" / "dev_qa.jsonl").is_file(), reason="needs ../shared/eval")
def test_training_data_leaves_out_excluded_archives(tmp_path, monkeypatch, encoder):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_cross_encoder as tce

    monkeypatch.setattr(tce, "CACHE", tmp_path)  # indexes of the test go to a temporary folder
    with pytest.raises(SystemExit, match="unknown archive"):
        tce.build_data(0, ["nonesuch"], val_n=0, log=lambda m: None)
    assert tce.selected_archives(["v05", "v14"]) == ["seeds"]
    assert tce.selected_archives(["seeds"]) == ["v05", "v14"]

    train, val = tce.build_data(0, ["v05", "v14"], val_n=0, log=lambda m: None)
    assert not val and train
    assert {q.source for q in train} == {"seeds"}
    left_out = set()
    for name in ("v05", "v14"):
        left_out |= {it["question"] for it in tce.archive_items(tce.ARCHIVES[name][1])}
    assert left_out and not left_out & {q.question for q in train}
    seeds_questions = {it["question"] for it in tce.archive_items(tce.ARCHIVES["seeds"][1])}
    assert {q.question for q in train} <= seeds_questions
    # Every training question has gold sentences, and its candidates come from the index's sentences.
    for q in train:
        assert q.gold and all(q.texts[r] for r in q.gold)
    assert SEEDS.is_dir()


def test_reranker_feature_scores_candidates_in_row_order(archive, scorer):
    question = RELEVANT[0][0]
    _, cands = archive.gather(question, archive.embed_questions([question])[0])
    feature = ce.candidate_scores(archive.index, question, cands.rows, scorer)
    assert feature.dtype == np.float64 and feature.shape == (len(cands),)
    reversed_rows = cands.rows[::-1]
    np.testing.assert_allclose(ce.candidate_scores(archive.index, question, reversed_rows, scorer),
                               feature[::-1], atol=ce.MAX_EXPORT_ERROR)
    best = int(cands.rows[int(feature.argmax())])
    assert archive.index.sentence_text(best) == RELEVANT[0][1]
    assert ce.shared() is ce.shared()  # one scorer per process

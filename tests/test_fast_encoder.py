"""The ONNX encoder: same vectors as sentence-transformers, a query path without torch, fallbacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa import index as index_mod
from qa import onnx_encoder
from qa.embed import Encoder, ModelMissing

from .conftest import ROOT, SEEDS

HEAVY = ("torch", "transformers", "sentence_transformers", "bm25s", "scipy")
QUESTIONS = [
    "What did Rusk say about July?",
    "Who met Dobrynin?",
    "How many missiles were shipped to Cuba?",
    "missiles",
    "Что сказал Громыко?",
]


@pytest.fixture(scope="session")
def onnx_model(encoder):
    """The exported model in the model cache (the `encoder` fixture exports it when missing)."""
    if not onnx_encoder.runtime_available():
        pytest.skip("onnxruntime or tokenizers is not installed")
    path = onnx_encoder.onnx_path()
    assert path.is_file(), "exporting the packaged model to ONNX failed"
    return path


def _seed_texts(archive) -> list[str]:
    idx = archive.index
    texts = [idx.sentence_text(i) for i in range(idx.n_sentences)]
    texts += [idx.texts[idx.pass_doc[j]][idx.pass_start[j] : idx.pass_end[j]] for j in range(idx.n_passages)]
    return texts


def test_onnx_and_sentence_transformers_agree(onnx_model, torch_encoder, archive):
    # Every seed sentence and passage, questions, and a text past the 256-token limit.
    texts = _seed_texts(archive) + QUESTIONS + [archive.index.texts[0][:6000]]
    fast = Encoder(backend="onnx")
    assert fast.backend == "onnx" and torch_encoder.backend == "torch"
    a, b = fast.encode(texts), torch_encoder.encode(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() >= 0.999, texts[int(cosine.argmin())]


def test_unknown_encoder_is_refused():
    with pytest.raises(ModelMissing, match="QA_ENCODER"):
        Encoder(backend="int8")


def test_index_vectors_are_those_of_each_document_alone(onnx_model, seeds_index, encoder):
    # Builds embed many documents per call; every row must still belong to its own sentence.
    loaded = index_mod.load(seeds_index)
    for d in loaded.docs:
        text = loaded.texts[d.id]
        sents = [text[loaded.sent_start[i] : loaded.sent_end[i]] for i in range(d.sent_lo, d.sent_hi)]
        alone = encoder.encode(sents)
        # Batch-mates change only the padding, which is masked: the same vector to float precision.
        assert (np.asarray(loaded.sent_vecs[d.sent_lo : d.sent_hi]) * alone).sum(axis=1).min() > 0.99999
        # A passage's vector is pooled from its own sentences' vectors, not from its neighbours'.
        for j in range(d.pass_lo, d.pass_hi):
            rows = slice(int(loaded.pass_first[j]), int(loaded.pass_last[j]) + 1)
            lengths = (loaded.sent_end[rows] - loaded.sent_start[rows]).astype(np.float32)
            pooled = lengths @ np.asarray(loaded.sent_vecs[rows])
            pooled /= np.linalg.norm(pooled)
            assert float(np.asarray(loaded.pass_vecs[j]) @ pooled) > 0.9999


def _run(code_or_args: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_a_cold_question_does_not_import_torch(onnx_model, seeds_index):
    code = f"""
import json, sys
from qa.engine import Archive
archive = Archive.open({str(SEEDS)!r}, {str(seeds_index)!r}, log=lambda m: None)
answer = archive.ask("What did Rusk say about July?")
print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules],
                  "backend": archive.encoder.backend, "answer": answer.to_json()}}))
"""
    proc = _run(["-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["heavy"] == []
    assert out["backend"] == "onnx"
    assert not out["answer"]["abstained"]
    assert any("Rusk" in (a["speaker"] or "") for a in out["answer"]["answers"])


def test_the_ask_command_imports_no_torch(onnx_model, seeds_index):
    proc = _run(
        ["-X", "importtime", "-m", "qa", "ask", "What did Rusk say about July?", "--json",
         "--corpus", str(SEEDS), "--index", str(seeds_index)]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
    assert json.loads(proc.stdout)["answers"]


def test_without_an_export_the_encoder_falls_back_to_sentence_transformers(tmp_path, monkeypatch, torch_encoder):
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "models"))
    enc = Encoder()
    vec = enc.encode(QUESTIONS[:1])
    assert enc.backend == "torch"
    assert float(vec[0] @ torch_encoder.encode(QUESTIONS[:1])[0]) > 0.9999
    with pytest.raises(ModelMissing, match="qa index"):
        Encoder(backend="onnx").load()


def test_a_damaged_export_is_reported_then_exported_again(tmp_path, monkeypatch, capsys, torch_encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "cable.txt").write_text("Rusk said the situation worsened in July. Dobrynin disagreed.\n", "utf-8")
    index_mod.build(corpus, root, torch_encoder)
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "models"))
    path = onnx_encoder.onnx_path()
    assert path.is_relative_to(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a model")  # what a crash mid-write would leave if writes were not atomic

    enc = Encoder()
    vec = enc.encode(QUESTIONS[:1])
    assert enc.backend == "torch"
    assert "unusable" in capsys.readouterr().err
    assert float(vec[0] @ torch_encoder.encode(QUESTIONS[:1])[0]) > 0.9999

    # `qa index` on an index with nothing to embed still repairs the model.
    messages: list[str] = []
    report = index_mod.build(corpus, root, Encoder(), log=messages.append)
    assert report.embedded_documents == []
    assert any("exporting" in m for m in messages)
    # No temporary file left, and nothing else beside the model.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    fresh = Encoder()
    assert fresh.backend == "onnx"
    assert float(fresh.encode(QUESTIONS[:1])[0] @ vec[0]) > 0.999


def test_model_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_encoder.onnx_path().is_relative_to(tmp_path / "xdg" / "qa" / "models")
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "mine"))
    assert onnx_encoder.onnx_path().parent.parent == tmp_path / "mine"

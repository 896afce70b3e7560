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


@pytest.fixture(scope="session")
def torch_encoder():
    return Encoder(backend="torch").load()


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


def test_documents_are_embedded_by_the_int8_copy_close_to_the_exact_vectors(onnx_model, encoder, archive):
    assert encoder.precision == "int8" and encoder.document_precision == "int8"
    assert onnx_encoder.quantized_path().is_file()
    sents = [archive.index.sentence_text(i) for i in range(archive.index.n_sentences)]
    cosine = (encoder.encode_documents(sents) * encoder.encode(sents)).sum(axis=1)
    assert cosine.mean() >= 0.98 and cosine.min() >= 0.95, sents[int(cosine.argmin())]
    assert cosine.mean() < 0.99999  # really the int8 graph, not the exact one again


def test_fp32_precision_embeds_documents_exactly(onnx_model, archive):
    exact = Encoder(backend="onnx", precision="fp32")
    assert exact.document_precision == "fp32"
    sents = [archive.index.sentence_text(i) for i in range(20)]
    assert np.array_equal(exact.encode_documents(sents), exact.encode(sents))
    with pytest.raises(ModelMissing, match="QA_INDEX_PRECISION"):
        Encoder(precision="int4")


def test_index_vectors_are_those_of_each_document_alone(onnx_model, seeds_index, encoder):
    # Builds embed many documents per call; every row must still belong to its own sentence.
    loaded = index_mod.load(seeds_index)
    for d in loaded.docs:
        text = loaded.texts[d.id]
        sents = [text[loaded.sent_start[i] : loaded.sent_end[i]] for i in range(d.sent_lo, d.sent_hi)]
        alone = encoder.encode_documents(sents)
        # int8 activations are scaled per batch, so a vector moves a little with its batch-mates
        # (cosine ~0.99); another sentence's vector would be far below this.
        assert (np.asarray(loaded.sent_vecs[d.sent_lo : d.sent_hi]) * alone).sum(axis=1).min() > 0.97
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
    # Nothing was embedded, so no int8 copy yet; and no temporary file left.
    assert not any("int8 copy" in m for m in messages)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    fresh = Encoder()
    assert fresh.backend == "onnx" and fresh.document_precision == "fp32"
    assert float(fresh.encode(QUESTIONS[:1])[0] @ vec[0]) > 0.999

    # A build that embeds writes the int8 copy, and nothing else is left beside it.
    messages.clear()
    index_mod.build(corpus, root, Encoder(), log=messages.append, force=True)
    assert any("int8 copy" in m for m in messages)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, onnx_encoder.quantized_path().name])

    # A damaged int8 copy: documents fall back to the exact graph, and the next build rewrites it.
    onnx_encoder.quantized_path().write_bytes(b"half a model")
    assert Encoder().document_precision == "fp32"

    # A quantiser failing without a message (a bare RuntimeError()) is a warning, not a crash.
    def fail(*args, **kwargs):
        raise RuntimeError()

    with monkeypatch.context() as m:
        m.setattr(onnx_encoder, "quantize", fail)
        messages.clear()
        index_mod.build(corpus, root, Encoder(), log=messages.append, force=True)
    assert any("could not write the int8 model (RuntimeError)" in msg for msg in messages)

    messages.clear()
    index_mod.build(corpus, root, Encoder(), log=messages.append, force=True)
    assert any("int8 copy" in m for m in messages)
    assert Encoder().document_precision == "int8"


def test_model_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_encoder.onnx_path().is_relative_to(tmp_path / "xdg" / "qa" / "models")
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "mine"))
    assert onnx_encoder.onnx_path().parent.parent == tmp_path / "mine"


def test_writing_the_int8_copy_leaves_logging_alone(onnx_model, tmp_path):
    # The quantiser reconfigures logging; left so, library debug lines ("DEBUG:bm25s:Building
    # index from tokens") reached the terminal of the `qa index` that wrote the copy.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cable.txt").write_text("Rusk said the situation worsened in July. Dobrynin disagreed.\n", "utf-8")
    run = _run(
        ["-m", "qa", "index", "--corpus", str(corpus), "--index", str(tmp_path / "index")],
        QA_MODEL_CACHE=str(tmp_path / "models"),  # export and quantise afresh
    )
    assert run.returncode == 0, run.stderr
    assert "int8 copy" in run.stderr
    assert "DEBUG" not in run.stderr + run.stdout

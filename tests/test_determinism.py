"""Same corpus, same question, same extracts in the same order on any machine.

Vectors differ between CPUs in their last bits (float kernels sum in other orders). The answers
must not: an index embedded by other kernels (sentence-transformers on torch instead of
onnxruntime: vectors 1.3e-6 apart at most), or one whose every vector is pushed by noise hundreds
of times larger than that, gives the same extracts in the same order. (int8 document vectors, which
moved with the CPU's integer kernels, changed the extracts of 7 of these questions and the first
extract of 3; the first test fails with them.)

All the top-1 answers other tests assert (tests/test_quality.py, test_conversation.py) lead the
next extract by 0.016 in probability at least: no test relies on a near-tie.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from qa.engine import Archive
from qa.index import build

from .conftest import SEEDS, SHARED

# Questions whose answers the tests assert, and more that reach every seed document.
QUESTIONS = [
    "Who translated the Polyansky report?",
    "What did Rusk say about July?",
    "What did Rusk say about Japan?",
    "What did Gromyko answer about July?",
    "What did Rusk say about American military bases abroad?",
    "What did Gromyko say about the UN Charter?",
    "Where is Stalinist policy reflected, according to Rusk?",
    "What did Khrushchev threaten if the US touched Cuba?",
    "Are there American weapons in South Korea?",
    "What would missiles do to a country the Soviet Union wanted to help?",
    "How is the food situation in China?",
    "What happened to the missiles in Cuba?",
    "What did Polyansky say happened to the missiles in Cuba?",
    "What is the capital of Brazil?",
    "What did Rusk say about Vietnam?",
]
# Length of the random push given to every unit vector, documents' and questions' alike.
NOISE = 1e-3


def questions() -> list[str]:
    dev = SHARED / "eval" / "dev_qa.jsonl"
    extra = [json.loads(line)["question"] for line in dev.read_text("utf-8").splitlines() if line.strip()] if dev.is_file() else []
    return list(dict.fromkeys(QUESTIONS + extra))


def ranking(archive: Archive) -> dict[str, tuple]:
    """Per question: abstained or not, and the extracts shown (answers, else closest passages) in order."""
    out = {}
    for q in questions():
        a = archive.ask(q)
        shown = a.closest if a.abstained else a.answers
        out[q] = (a.abstained, [(e.doc, e.start, e.end) for e in shown], [round(e.score, 4) for e in shown])
    return out


def assert_same_rankings(got: dict, want: dict) -> None:
    differ = {q: (want[q], got[q]) for q in want if got[q][:2] != want[q][:2]}
    assert not differ, "\n".join(f"{q}\n  want {w}\n  got  {g}" for q, (w, g) in differ.items())


class Noisy:
    """The real encoder, each output vector pushed by a seeded random vector of length `eps`."""

    def __init__(self, encoder, eps: float, seed: int):
        self.encoder, self.eps, self.rng = encoder, eps, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode(self, texts, progress=None):
        vecs = self.encoder.encode(texts, progress=progress)
        push = self.rng.standard_normal(vecs.shape).astype(np.float32)
        push *= self.eps / np.linalg.norm(push, axis=1, keepdims=True)
        vecs = vecs + push
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def reference(archive):
    return ranking(archive)


def distances(a: Archive, b: Archive) -> np.ndarray:
    return np.linalg.norm(np.asarray(a.index.sent_vecs) - np.asarray(b.index.sent_vecs), axis=1)


def test_documents_embedded_by_other_kernels_give_the_same_answers(archive, reference, encoder, torch_encoder, tmp_path):
    # sentence-transformers on torch computes the same model with other matrix kernels (and
    # summation orders) than onnxruntime: the vectors differ in their last bits, as across CPUs.
    build(SEEDS, tmp_path / "torch", torch_encoder)
    other = Archive.open(SEEDS, tmp_path / "torch", encoder=encoder, log=lambda m: None)
    assert_same_rankings(ranking(other), reference)
    moved = distances(other, archive)
    assert 0 < moved.max() < 1e-4, moved.max()  # other vectors indeed, of the same model


def test_answers_survive_noise_far_above_cross_cpu_differences(archive, reference, encoder, tmp_path):
    noisy = Noisy(encoder, NOISE, seed=12)
    build(SEEDS, tmp_path / "noisy", noisy)
    other = Archive.open(SEEDS, tmp_path / "noisy", encoder=noisy, log=lambda m: None)
    assert np.allclose(distances(other, archive), NOISE, rtol=0.05)  # every vector really pushed
    assert_same_rankings(ranking(other), reference)

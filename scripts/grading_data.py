"""Public grading benchmarks (Beetle, Mohler) as uniform items, and their feature matrices.

Shared by scripts/train_grader.py and scripts/eval_grading.py. The data lives in ../shared and is
never copied into the repository.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.grade import TextVectors, compare  # noqa: E402

SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared"))
BEETLE = SHARED / "bench" / "grading" / "beetle_5way.jsonl"
MOHLER = SHARED / "bench" / "grading" / "mohler.csv"
DEV_QUIZ = SHARED / "eval" / "dev_quiz.csv"
SCORE_QUIZ = SHARED / "eval" / "score_quiz.py"

# SemEval-2013 5-way labels -> the three verdicts of `qa grade`.
THREE_WAY = {
    "correct": "correct",
    "partially_correct_incomplete": "partial",
    "contradictory": "incorrect",
    "irrelevant": "incorrect",
    "non_domain": "incorrect",
}


@dataclass
class Item:
    question: str
    answer: str
    reference: str
    label: Optional[str] = None  # correct | partial | incorrect
    score: Optional[float] = None  # Mohler: mean of the two human scores (0-5)
    group: str = ""  # question id
    fine_label: Optional[str] = None  # Beetle's 5-way label (the model is trained on these)


def beetle(split: str) -> list[Item]:
    out = []
    with BEETLE.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["split"] == split:
                out.append(Item(r["question"], r["student_answer"], r["reference_answers"][0], THREE_WAY[r["label_5way"]],
                                group=r["qid"], fine_label=r["label_5way"]))
    return out


def mohler() -> list[Item]:
    with MOHLER.open(encoding="utf-8", newline="") as f:
        return [
            Item(r["question"], r["student_answer"], r["desired_answer"], score=float(r["score_avg"]), group=r["id"])
            for r in csv.DictReader(f)
        ]


class CachedTextVectors(TextVectors):
    """TextVectors persisted between runs (the benchmarks take minutes to embed on 2 cores)."""

    def __init__(self, encoder, path: Path):
        super().__init__(encoder)
        self.path = path
        if path.exists():
            with path.open("rb") as f:
                self._sent, self._tok = pickle.load(f)
        self._dirty = False

    def add(self, texts):
        before = len(self._sent)
        super().add(texts)
        self._dirty |= len(self._sent) != before

    def save(self) -> None:
        if self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump((self._sent, self._tok), f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self.path)
            self._dirty = False


def text_vectors(encoder, name: str) -> TextVectors:
    cache = os.environ.get("QA_GRADING_CACHE")
    if not cache:
        return TextVectors(encoder)
    return CachedTextVectors(encoder, Path(cache) / f"{name}.pkl")


def embed(items: list[Item], tv: TextVectors) -> None:
    """Every text `compare` will need, embedded in batches up front."""
    texts = set()
    for it in items:
        texts.update((it.question, it.answer, it.reference, f"{it.question} {it.answer}", f"{it.question} {it.reference}"))
    tv.add(sorted(texts))
    if isinstance(tv, CachedTextVectors):
        tv.save()


def features(items: list[Item], tv: TextVectors) -> np.ndarray:
    embed(items, tv)
    return np.stack([compare(it.question, it.answer, it.reference, tv).vector() for it in items])


def digest(items: list[Item]) -> str:
    h = hashlib.sha1()
    for it in items:
        h.update(f"{it.question}\x00{it.answer}\x00{it.reference}\x00{it.label}\n".encode())
    return h.hexdigest()[:12]

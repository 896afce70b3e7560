"""Measure `qa grade` against baselines in one run and write docs/grading.md.

    python scripts/eval_grading.py            # prints the table, rewrites docs/grading.md

Data (never copied into the repository, never trained on except Beetle `train`):
  - SemEval-2013 Beetle 5-way -> 3-way, `test-unseen-answers` and `test-unseen-questions`
  - Mohler et al. 2011 (Pearson of `score` with the mean of the two human scores)
  - ../shared/eval/dev_quiz.csv through `qa grade` and ../shared/eval/score_quiz.py
  - tests/data/quiz_seeds*.csv, our own quizzes on the seeds (docs/grading.md says how held out
    each one is)
Baselines: majority class; SQuAD token F1 and MiniLM cosine, each with two thresholds
(incorrect < t1 <= partial < t2 <= correct) fit for accuracy on Beetle train.  On the quizzes they
compare the answer with the key, or with the archive's top extract when there is no key.
Set QA_GRADING_CACHE=/some/dir to keep embeddings between runs.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grading_data import DEV_QUIZ, ROOT, SCORE_QUIZ, beetle, embed, mohler, text_vectors

from qa.embed import Encoder
from qa.grade import VERDICTS, GraderModel, grade_with_key, token_f1

OWN_QUIZ = ROOT / "tests" / "data" / "quiz_seeds.csv"
HELDOUT_QUIZ = ROOT / "tests" / "data" / "quiz_seeds_heldout.csv"
FRESH_QUIZ = ROOT / "tests" / "data" / "quiz_seeds_fresh.csv"
DOC = ROOT / "docs" / "grading.md"
TARGETS = {"quiz_acc": 0.85, "quiz_qwk": 0.80, "uq_gain": 0.10, "mohler": 0.55}


# -- metrics ---------------------------------------------------------------------------------------


def accuracy(y: list[str], p: list[str]) -> float:
    return sum(a == b for a, b in zip(y, p)) / len(y)


def macro_f1(y: list[str], p: list[str]) -> float:
    out = []
    for c in VERDICTS:
        tp = sum(a == c and b == c for a, b in zip(y, p))
        fp = sum(a != c and b == c for a, b in zip(y, p))
        fn = sum(a == c and b != c for a, b in zip(y, p))
        out.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(out) / len(out)


def pearson(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def band(scores, t1: float, t2: float) -> list[str]:
    return ["correct" if s >= t2 else "partial" if s >= t1 else "incorrect" for s in scores]


def fit_thresholds(scores: np.ndarray, labels: list[str]) -> tuple[float, float]:
    """Two cut points maximising accuracy on the training answers (grid over score quantiles)."""
    grid = np.unique(np.quantile(scores, np.linspace(0, 1, 101)))
    y = np.array(labels)
    best = (-1.0, 0.0, 0.0)
    for i, t1 in enumerate(grid):
        for t2 in grid[i:]:
            acc = float((np.array(band(scores, t1, t2)) == y).mean())
            if acc > best[0]:
                best = (acc, float(t1), float(t2))
    return best[1], best[2]


def score_quiz(gold: Path, graded: Path) -> dict:
    out = subprocess.run([sys.executable, str(SCORE_QUIZ), str(gold), str(graded), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# -- runs ------------------------------------------------------------------------------------------


def run_cli_grade(quiz: Path, out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "grade", str(quiz), "--format", "csv", "-o", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"qa grade failed on {quiz}:\n{proc.stderr}")


def quiz_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def quiz_baseline_refs(rows: list[dict], encoder) -> list[str]:
    """The key, or without one the archive's top extract for the question."""
    from qa.engine import Archive

    archive = Archive.open(ROOT / "seeds", ROOT / "index", encoder=encoder, log=lambda m: None)
    need = sorted({r["question"] for r in rows if not (r.get("reference") or "").strip()})
    top = {q: (a.answers[0].quote if a.answers else "") for q, a in zip(need, archive.ask_many(need, k=1))}
    return [(r.get("reference") or "").strip() or top[r["question"]] for r in rows]


def write_verdicts(rows: list[dict], verdicts: list[str], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["question", "answer", "verdict"])
        w.writeheader()
        for r, v in zip(rows, verdicts):
            w.writerow({"question": r["question"], "answer": r["answer"], "verdict": v})


def main() -> int:
    t0 = time.time()
    encoder = Encoder()
    tv = text_vectors(encoder, "beetle")
    model = GraderModel.load()
    train, ua, uq = beetle("train"), beetle("test-unseen-answers"), beetle("test-unseen-questions")
    embed(train + ua + uq, tv)  # every text once, in batches
    moh = mohler()
    tv_m = text_vectors(encoder, "mohler")
    embed(moh, tv_m)

    def cos(items, vecs):
        return np.array([float(vecs.vec(it.answer) @ vecs.vec(it.reference)) for it in items])

    def f1(items, _vecs=None):
        return np.array([token_f1(it.answer, it.reference) for it in items])

    results: dict[str, dict[str, float]] = {}
    ytr = [it.label for it in train]
    majority = max(VERDICTS, key=ytr.count)

    tmp = Path(tempfile.mkdtemp(prefix="eval-grading-"))
    quizzes = {"quiz": DEV_QUIZ, "own": OWN_QUIZ, "held": HELDOUT_QUIZ, "fresh": FRESH_QUIZ}
    qrows = {k: quiz_rows(p) for k, p in quizzes.items() if p.exists()}
    qrefs = {k: quiz_baseline_refs(rows, encoder) for k, rows in qrows.items()}
    qtv = text_vectors(encoder, "quiz")
    for k, rows in qrows.items():
        qtv.add([r["answer"] for r in rows] + qrefs[k])

    def quiz_scores(name: str, verdicts_for) -> dict[str, float]:
        out = {}
        for k, rows in qrows.items():
            path = tmp / f"{name}-{k}.csv"
            write_verdicts(rows, verdicts_for(k, rows), path)
            m = score_quiz(quizzes[k], path)
            out[f"{k}_acc"], out[f"{k}_qwk"] = m["accuracy"], m["qwk"]
        return out

    # Majority class.
    r = {}
    for split, items in (("ua", ua), ("uq", uq)):
        y = [it.label for it in items]
        p = [majority] * len(items)
        r[f"{split}_acc"], r[f"{split}_f1"] = accuracy(y, p), macro_f1(y, p)
    r["mohler"] = float("nan")
    r.update(quiz_scores("majority", lambda k, rows: [majority] * len(rows)))
    results[f"majority class ({majority})"] = r

    # Threshold baselines.
    for name, fn, quiz_fn in (
        ("token F1, thresholds fit on Beetle train", f1,
         lambda k, rows: [token_f1(row["answer"], ref) for row, ref in zip(rows, qrefs[k])]),
        ("MiniLM cosine, thresholds fit on Beetle train", lambda items, _=None: cos(items, tv),
         lambda k, rows: [float(qtv.vec(row["answer"]) @ qtv.vec(ref)) for row, ref in zip(rows, qrefs[k])]),
    ):
        t1, t2 = fit_thresholds(fn(train), ytr)
        r = {}
        for split, items in (("ua", ua), ("uq", uq)):
            y = [it.label for it in items]
            p = band(fn(items), t1, t2)
            r[f"{split}_acc"], r[f"{split}_f1"] = accuracy(y, p), macro_f1(y, p)
        r["mohler"] = pearson(f1(moh) if fn is f1 else cos(moh, tv_m), [it.score for it in moh])
        r.update(quiz_scores(name.split(",")[0], lambda k, rows, quiz_fn=quiz_fn: band(quiz_fn(k, rows), t1, t2)))
        results[f"{name} ({t1:.2f}, {t2:.2f})"] = r

    # qa grade: key mode on the benchmarks, the full command on the quizzes.
    r = {}
    for split, items in (("ua", ua), ("uq", uq)):
        y = [it.label for it in items]
        p = [grade_with_key(it.question, it.answer, it.reference, tv, model).verdict for it in items]
        r[f"{split}_acc"], r[f"{split}_f1"] = accuracy(y, p), macro_f1(y, p)
    r["mohler"] = pearson([grade_with_key(it.question, it.answer, it.reference, tv_m, model).score for it in moh], [it.score for it in moh])
    for k in qrows:
        out = tmp / f"qa-grade-{k}.csv"
        run_cli_grade(quizzes[k], out)
        m = score_quiz(quizzes[k], out)
        r[f"{k}_acc"], r[f"{k}_qwk"] = m["accuracy"], m["qwk"]
    results["**qa grade**"] = r

    table = render(results)
    print(table)
    best_uq = max(v["uq_acc"] for k, v in results.items() if k != "**qa grade**")
    ours = results["**qa grade**"]
    checks = [
        ("dev_quiz accuracy ≥ 0.85", ours.get("quiz_acc", float("nan")), ours.get("quiz_acc", 0) >= TARGETS["quiz_acc"]),
        ("dev_quiz qwk ≥ 0.80", ours.get("quiz_qwk", float("nan")), ours.get("quiz_qwk", 0) >= TARGETS["quiz_qwk"]),
        (f"Beetle unseen-questions accuracy ≥ best baseline + 0.10 = {best_uq + 0.10:.3f}", ours["uq_acc"], ours["uq_acc"] >= best_uq + TARGETS["uq_gain"]),
        ("Mohler Pearson ≥ 0.55", ours["mohler"], ours["mohler"] >= TARGETS["mohler"]),
    ]
    lines = [f"- {name}: **{value:.3f}** — {'met' if ok else 'NOT met'}" for name, value, ok in checks]
    print("\n".join(lines))
    print(f"({time.time() - t0:.0f}s)")
    write_doc(table, lines, model)
    return 0


COLUMNS = (
    ("ua_acc", "Beetle UA acc"), ("ua_f1", "UA macro-F1"), ("uq_acc", "Beetle UQ acc"), ("uq_f1", "UQ macro-F1"),
    ("mohler", "Mohler Pearson"), ("quiz_acc", "dev_quiz acc"), ("quiz_qwk", "dev_quiz qwk"),
    ("own_acc", "seed quiz acc"), ("own_qwk", "seed quiz qwk"),
    ("held_acc", "seed quiz 2 acc"), ("held_qwk", "seed quiz 2 qwk"),
    ("fresh_acc", "seed quiz 3 acc"), ("fresh_qwk", "seed quiz 3 qwk"),
)


def render(results: dict[str, dict[str, float]]) -> str:
    head = "| method | " + " | ".join(c for _, c in COLUMNS) + " |"
    sep = "|---|" + "---:|" * len(COLUMNS)
    rows = []
    for name, r in results.items():
        cells = []
        for key, _ in COLUMNS:
            v = r.get(key)
            cells.append("–" if v is None or v != v else f"{v:.3f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *rows])


def write_doc(table: str, checks: list[str], model: GraderModel) -> None:
    template = (ROOT / "scripts" / "grading_doc.md").read_text("utf-8")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(
        template.replace("{{TABLE}}", table).replace("{{CHECKS}}", "\n".join(checks))
        .replace("{{CV}}", f"{model.meta.get('grouped_cv_accuracy', float('nan')):.3f}"),
        encoding="utf-8",
    )
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())

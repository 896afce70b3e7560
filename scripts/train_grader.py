"""Train the `qa grade` model: multinomial logistic regression on SemEval Beetle `train` only.

    python scripts/train_grader.py            # writes qa/models/grader.json

The model learns Beetle's five labels and `qa grade` sums them into the three verdicts
(`verdict_of` in the JSON): "incorrect" mixes contradictions, off-topic answers and non-answers,
whose features look nothing alike, and one linear class per kind separates them better
(question-grouped cross-validation on train, the only model-selection signal; docs/grading.md).

Deterministic: MiniLM on CPU varies in the 7th decimal from run to run (thread scheduling), so
features are rounded to 4 decimals before the (lbfgs) fit and weights to 4 decimals after it.
scikit-learn is needed here only (it is a dev dependency); `qa grade` reads the JSON with numpy.
Set QA_GRADING_CACHE=/some/dir to keep the embeddings between runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from grading_data import ROOT, THREE_WAY, beetle, digest, features, text_vectors

from qa.embed import Encoder
from qa.grade import FEATURES, MODEL_PATH, VERDICTS

C = 0.1  # chosen by question-grouped 5-fold cross-validation on Beetle train (see docs/grading.md)
FOLDS = 5


def fit(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000)).fit(X, y)


def predict(model, X: np.ndarray) -> np.ndarray:
    """Three-way verdicts: the fine classes' probabilities summed per verdict, as `qa grade` does."""
    P = model.predict_proba(X)
    verdicts = list(VERDICTS)
    Q = np.zeros((len(X), len(verdicts)))
    for k, c in enumerate(model.classes_):
        Q[:, verdicts.index(THREE_WAY[c])] += P[:, k]
    return np.array(verdicts)[Q.argmax(1)]


def grouped_cv(X: np.ndarray, y: np.ndarray, groups: list[str]) -> float:
    """3-way accuracy of FOLDS-fold cross-validation with each question's answers on one side only."""
    from sklearn.model_selection import GroupKFold

    y3 = np.array([THREE_WAY[c] for c in y])
    hits = 0
    for tr, te in GroupKFold(FOLDS).split(X, y, groups):
        hits += int((predict(fit(X[tr], y[tr]), X[te]) == y3[te]).sum())
    return hits / len(y)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=MODEL_PATH)
    args = ap.parse_args()
    t0 = time.time()
    items = beetle("train")
    X = np.round(features(items, text_vectors(Encoder(), "beetle")), 4)
    y = np.array([it.fine_label for it in items])
    cv = grouped_cv(X, y, [it.group for it in items])
    model = fit(X, y)
    scaler, lr = model[0], model[-1]
    classes = [str(c) for c in lr.classes_]
    out = {
        "features": list(FEATURES),
        "classes": classes,
        "verdict_of": {c: THREE_WAY[c] for c in classes},
        "mean": [round(float(v), 4) for v in scaler.mean_],
        "scale": [round(float(v), 4) for v in scaler.scale_],
        "coef": [[round(float(v), 4) for v in row] for row in lr.coef_],
        "intercept": [round(float(v), 4) for v in lr.intercept_],
        "meta": {
            "model": f"multinomial logistic regression on Beetle's 5 labels summed into 3 verdicts, C={C}, standardised features",
            "trained_on": f"SemEval-2013 Beetle train, 5-way ({len(items)} answers, digest {digest(items)})",
            "grouped_cv_accuracy": round(cv, 4),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
          f"{len(items)} answers, question-grouped {FOLDS}-fold CV 3-way accuracy {cv:.3f}, {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

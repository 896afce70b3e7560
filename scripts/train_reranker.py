"""Learn the reranker weights and the abstention threshold; write qa/models/reranker.json.

Training data (only what we may learn from):
  * even-indexed articles of SQuAD v1.1 dev: a candidate sentence is positive when it contains a
    gold answer span;
  * ../shared/eval/dev_qa.jsonl and dev_conversations.jsonl turn 1 on the seeds: positive when the
    sentence overlaps a gold span (the scorer's rule);
  * answerability (abstention): even-indexed articles of the rebuilt SQuAD 2.0 dev (answerable and
    unanswerable), SQuAD v1 even questions asked of the wrong article (nothing there can answer
    them) and the dev sets; the threshold keeps false abstentions on answerable questions at or
    under TARGET_FALSE_ABSTAIN.

Deterministic: fixed sample, fixed solver. Usage: python scripts/train_reranker.py [--sample N]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from squad import ROOT, SHARED, squad_archive  # noqa: E402

from qa.engine import Archive  # noqa: E402
from qa.rerank import ABSTAIN_FEATURES, FEATURES, WEIGHTS_PATH, LogisticModel, abstain_features, featurize  # noqa: E402

TARGET_FALSE_ABSTAIN = 0.03
DEV_WEIGHT = 5.0  # the dev questions are few but are the only ones that ask who said what


def overlaps(s: int, e: int, golds: list[tuple[int, int]]) -> bool:
    for gs, ge in golds:
        ov = max(0, min(e, ge) - max(s, gs))
        if ov >= 0.5 * (ge - gs) or ov >= 0.5 * (e - s):
            return True
    return False


def collect(archive: Archive, items, label_fn):
    """Features and labels of every candidate of every question (questions embedded in one batch)."""
    idx = archive.index
    vecs = archive.embed_questions([it["question"] for it in items])
    X, y, groups = [], [], []
    for g, (it, v) in enumerate(zip(items, vecs)):
        frame, cands = archive.gather(it["question"], v)
        if len(cands) == 0:
            continue
        feats = featurize(idx, cands, frame, v)
        labels = np.array([label_fn(it, idx, int(r)) for r in cands.rows], dtype=np.int8)
        X.append(feats)
        y.append(labels)
        groups.append(np.full(len(labels), g))
    return np.vstack(X), np.concatenate(y), np.concatenate(groups)


def squad_label(it, idx, r) -> bool:
    d = idx.docs[int(idx.sent_doc[r])]
    if d.doc != it["doc"]:
        return False
    s, e = int(idx.sent_start[r]), int(idx.sent_end[r])
    return any(s <= gs and ge <= e for gs, ge in it["spans"])


def dev_label(it, idx, r) -> bool:
    d = idx.docs[int(idx.sent_doc[r])]
    golds = [(g["start"], g["end"]) for g in it["gold"] if g["doc"] == d.doc]
    return overlaps(int(idx.sent_start[r]), int(idx.sent_end[r]), golds)


def load_dev() -> list[dict]:
    rows = []
    for name in ("dev_qa.jsonl", "dev_conversations.jsonl"):
        for line in (SHARED / "eval" / name).read_text("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if int(r.get("turn", 1)) == 1:  # follow-ups need the conversation to make sense
                    rows.append(r)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=2500, help="SQuAD questions to learn from")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    t0 = time.time()
    rng = random.Random(0)
    archive, questions = squad_archive("v1")
    train_q = [q for q in questions if q.article % 2 == 0 and q.answerable and q.spans]
    rng.shuffle(train_q)
    train_q = train_q[: args.sample]
    items = [{"question": q.question, "doc": q.doc, "spans": q.spans} for q in train_q]
    Xs, ys, _ = collect(archive, items, squad_label)
    print(f"SQuAD even articles: {len(items)} questions, {len(ys)} candidates, {ys.mean():.3f} positive", file=sys.stderr)

    seeds = Archive.open(ROOT / "seeds", log=lambda m: print(m, file=sys.stderr))
    dev = load_dev()
    dev_answerable = [r for r in dev if r["answerable"]]
    Xd, yd, _ = collect(seeds, dev_answerable, dev_label)
    print(f"dev sets: {len(dev_answerable)} questions, {len(yd)} candidates", file=sys.stderr)

    X = np.vstack([Xs, Xd])
    y = np.concatenate([ys, yd])
    w = np.concatenate([np.ones(len(ys)), np.full(len(yd), DEV_WEIGHT)])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000, solver="lbfgs")
    model.fit((X - mean) / scale, y, sample_weight=w)

    rank = LogisticModel(list(FEATURES), mean, scale, model.coef_[0], float(model.intercept_[0]))

    # Answerability. Positives: answerable questions asked of the whole archive. Negatives:
    # SQuAD 2.0 unanswerables, the dev unanswerables, and - the "not in this archive" case - SQuAD
    # questions asked of a different article only (a document filter), where no answer can exist.
    archive2, questions2 = squad_archive("v2")
    cal2 = [q for q in questions2 if q.article % 2 == 0]
    rng.shuffle(cal2)
    cal2 = cal2[:1500]
    even_docs = sorted({q.doc for q in train_q})
    other = []
    for q in train_q[:1000]:
        choices = [d for d in even_docs if d != q.doc]
        other.append({"question": q.question, "answerable": False, "docs": [rng.choice(choices)]})
    sets = [
        (archive2, [{"question": q.question, "answerable": q.answerable} for q in cal2], 1.0),
        (archive, [{"question": q.question, "answerable": True} for q in train_q[1000:2000]], 1.0),
        (archive, other, 1.0),
        (seeds, dev, DEV_WEIGHT),
    ]
    A, ya, wa = [], [], []
    for arc, rows, weight in sets:
        vecs = arc.embed_questions([r["question"] for r in rows])
        for r, v in zip(rows, vecs):
            doc_ids = arc.doc_ids(r.get("docs"))
            frame, cands = arc.gather(r["question"], v, doc_ids)
            if len(cands) == 0:
                continue
            X = featurize(arc.index, cands, frame, v)
            A.append(abstain_features(X, rank.probability(X), cands, frame, arc.index))
            ya.append(int(r["answerable"]))
            wa.append(weight)
    A, ya, wa = np.array(A), np.array(ya), np.array(wa)
    amean, ascale = A.mean(axis=0), A.std(axis=0)
    ascale[ascale < 1e-9] = 1.0
    amodel = LogisticRegression(C=1.0, max_iter=2000, solver="lbfgs").fit((A - amean) / ascale, ya, sample_weight=wa)
    abstain = LogisticModel(list(ABSTAIN_FEATURES), amean, ascale, amodel.coef_[0], float(amodel.intercept_[0]))
    p = abstain.probability(A)
    threshold = float(np.quantile(p[ya == 1], TARGET_FALSE_ABSTAIN))
    abstain.threshold = threshold
    print(
        f"abstention: threshold {threshold:.4f}; on its training data false-abstain {(p[ya == 1] < threshold).mean():.3f}, "
        f"abstain-on-unanswerable {(p[ya == 0] < threshold).mean():.3f}",
        file=sys.stderr,
    )
    for name, c in zip(ABSTAIN_FEATURES, amodel.coef_[0]):
        print(f"  abstain {name:16s} {c:+.3f}", file=sys.stderr)

    WEIGHTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "rank": rank.to_json(),
        "abstain": abstain.to_json(),
        "trained_on": {
            "squad_v1_even_questions": len(items),
            "dev_questions": len(dev_answerable),
            "candidates": int(len(y)),
            "answerability_examples": int(len(ya)),
            "answerability_unanswerable": int((ya == 0).sum()),
            "target_false_abstain": TARGET_FALSE_ABSTAIN,
        },
        "script": "scripts/train_reranker.py",
    }
    WEIGHTS_PATH.write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    for name, c in sorted(zip(FEATURES, model.coef_[0]), key=lambda t: -abs(t[1])):
        print(f"  {name:16s} {c:+.3f}", file=sys.stderr)
    print(f"wrote {WEIGHTS_PATH} in {time.time() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Learn the reranker weights and the abstention threshold; write qa/models/reranker.json.

Training data (only what we may learn from):
  * even-indexed articles of SQuAD v1.1 dev: a candidate sentence is positive when it contains a
    gold answer span;
  * the development archives (scripts/archives.py: seeds with ../shared/eval's dev sets, and every
    ../shared/archives/*), all of them unless left out with --exclude: their qa.jsonl questions and
    the first turns of their conversations. Answerable ones are ranking data (a sentence is positive
    when it overlaps a gold span by the scorer's rule); all of them, answerable or not, are
    answerability data;
  * answerability (abstention) also learns from the even-indexed articles of the rebuilt SQuAD 2.0
    dev (answerable and unanswerable) and SQuAD v1 even questions asked of the wrong article
    (nothing there can answer them); the threshold keeps false abstentions on answerable questions
    at or under TARGET_FALSE_ABSTAIN on the training data.

How much an archive question counts against a SQuAD one (the archive weight) is chosen among
WEIGHT_CHOICES by leave-one-archive-out over the *included* archives: for each choice, each
included archive is scored (hit@1 of qa.jsonl through the whole pipeline, score_qa.py) by a model
trained on SQuAD plus the other included archives; the choice with the best mean wins (ties: the
smaller weight; before that, the better mean MRR@5). An archive left out with --exclude therefore influences nothing, not even the
weight. With fewer than two included archives there is nothing to select on: DEFAULT_WEIGHT.

Deterministic: fixed samples, fixed solver, fixed tie-breaks.

Usage: python scripts/train_reranker.py [--exclude ARCHIVE ...] [--out PATH] [--archive-weight W]
                                        [--sample N] [--shared DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archives as archives_mod  # noqa: E402
from archives import ROOT, DevArchive, default_shared, list_archives, select  # noqa: E402
from squad import squad_archive  # noqa: E402

from qa.rerank import ABSTAIN_FEATURES, FEATURES, WEIGHTS_PATH, LogisticModel, Reranker, abstain_features, featurize  # noqa: E402

TARGET_FALSE_ABSTAIN = 0.03
WEIGHT_CHOICES = (1.0, 5.0, 20.0)  # per archive question, against 1 per SQuAD question
DEFAULT_WEIGHT = 5.0
SQUAD_SAMPLE = 2500


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def overlaps(s: int, e: int, golds: list[tuple[int, int]]) -> bool:
    for gs, ge in golds:
        ov = max(0, min(e, ge) - max(s, gs))
        if ov >= 0.5 * (ge - gs) or ov >= 0.5 * (e - s):
            return True
    return False


@dataclass
class Asked:
    """One question put to an archive: its candidates' features, what is needed to compute its
    answerability features once a ranking model exists, and its labels."""

    X: np.ndarray
    labels: Optional[np.ndarray]  # per candidate (ranking data); None: not used for ranking
    answerable: bool
    cands: object
    frame: object
    index: object


def ask_all(archive, items: list[dict], label_fn=None) -> list[Asked]:
    """Features of every candidate of every item (questions embedded in one batch). An item may
    carry `docs` (a document filter) and `answerable`."""
    idx = archive.index
    vecs = archive.embed_questions([it["question"] for it in items])
    out = []
    for it, v in zip(items, vecs):
        frame, cands = archive.gather(it["question"], v, archive.doc_ids(it.get("docs")))
        if len(cands) == 0:
            continue
        X = featurize(idx, cands, frame, v)
        labels = None
        if label_fn is not None:
            labels = np.array([label_fn(it, idx, int(r)) for r in cands.rows], dtype=np.int8)
        out.append(Asked(X, labels, bool(it.get("answerable", True)), cands, frame, idx))
    return out


def squad_label(it, idx, r) -> bool:
    d = idx.docs[int(idx.sent_doc[r])]
    if d.doc != it["doc"]:
        return False
    s, e = int(idx.sent_start[r]), int(idx.sent_end[r])
    return any(s <= gs and ge <= e for gs, ge in it["spans"])


def gold_label(it, idx, r) -> bool:
    d = idx.docs[int(idx.sent_doc[r])]
    golds = [(g["start"], g["end"]) for g in it.get("gold") or [] if Path(g["doc"]).name == Path(d.doc).name]
    return overlaps(int(idx.sent_start[r]), int(idx.sent_end[r]), golds)


def archive_questions(arch: DevArchive) -> list[dict]:
    """What an archive teaches: its qa.jsonl and the first turns of its conversations."""
    return arch.questions() + arch.first_turns()


@dataclass
class TrainingData:
    """Everything training reads, featurised once; models for any set of included archives are fit
    from it (and memoised), so leave-one-archive-out costs one featurisation."""

    squad_rank: list[Asked]
    squad_abstain: list[Asked]
    archives: list[DevArchive]
    opened: dict[str, object]  # name -> qa.engine.Archive
    asked: dict[str, list[Asked]]  # name -> its questions (answerable ones labelled)
    sample: int
    _fits: dict = field(default_factory=dict)
    _scores: dict = field(default_factory=dict)

    def arch(self, name: str) -> DevArchive:
        return next(a for a in self.archives if a.name == name)


def collect(archives: list[DevArchive], sample: int = SQUAD_SAMPLE, shared: Optional[Path] = None) -> TrainingData:
    t0 = time.time()
    rng = random.Random(0)
    squad, questions = squad_archive("v1", shared)
    train_q = [q for q in questions if q.article % 2 == 0 and q.answerable and q.spans]
    rng.shuffle(train_q)
    train_q = train_q[:sample]
    items = [{"question": q.question, "doc": q.doc, "spans": q.spans} for q in train_q]
    squad_rank = ask_all(squad, items, squad_label)
    log(f"SQuAD even articles: {len(squad_rank)} questions, {sum(len(a.X) for a in squad_rank)} candidates")

    # Answerability. Positives: answerable questions asked of the whole archive (SQuAD v1 even
    # questions 1000-2000, already asked above). Negatives: SQuAD 2.0 unanswerables and - the "not
    # in this archive" case - SQuAD questions asked of a different article only (a document
    # filter), where no answer can exist.
    squad2, questions2 = squad_archive("v2", shared)
    cal2 = [q for q in questions2 if q.article % 2 == 0]
    rng.shuffle(cal2)
    cal2 = cal2[:1500]
    even_docs = sorted({q.doc for q in train_q})
    other = []
    for q in train_q[:1000]:
        choices = [d for d in even_docs if d != q.doc]
        other.append({"question": q.question, "answerable": False, "docs": [rng.choice(choices)]})
    positives = {id(q) for q in train_q[1000:2000]}
    squad_abstain = (
        ask_all(squad2, [{"question": q.question, "answerable": q.answerable} for q in cal2])
        + [a for a, q in zip(squad_rank, train_q) if id(q) in positives]
        + ask_all(squad, other)
    )
    log(f"SQuAD answerability: {len(squad_abstain)} questions")

    opened, asked = {}, {}
    for arch in archives:
        archive = arch.open(log)
        opened[arch.name] = archive
        rows = archive_questions(arch)
        asked[arch.name] = [
            Asked(a.X, a.labels if a.answerable else None, a.answerable, a.cands, a.frame, a.index)
            for a in ask_all(archive, rows, gold_label)
        ]
        n_ans = sum(a.answerable for a in asked[arch.name])
        log(f"{arch.name}: {n_ans} answerable + {len(asked[arch.name]) - n_ans} unanswerable questions")
    log(f"features collected in {time.time() - t0:.0f}s")
    return TrainingData(squad_rank, squad_abstain, list(archives), opened, asked, sample)


def _standardised_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, names: list[str]) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000, solver="lbfgs")
    model.fit((X - mean) / scale, y, sample_weight=w)
    return LogisticModel(list(names), mean, scale, model.coef_[0], float(model.intercept_[0]))


def fit(data: TrainingData, included: tuple[str, ...], weight: float) -> dict:
    """The weight file's content for SQuAD plus the `included` archives at `weight`."""
    key = (tuple(sorted(included)), float(weight))
    if key in data._fits:
        return data._fits[key]
    rank_sets = [(data.squad_rank, 1.0)] + [(data.asked[n], weight) for n in key[0]]
    Xs, ys, ws = [], [], []
    for asked, w in rank_sets:
        for a in asked:
            if a.labels is not None:
                Xs.append(a.X)
                ys.append(a.labels)
                ws.append(np.full(len(a.labels), w))
    X, y, w = np.vstack(Xs), np.concatenate(ys), np.concatenate(ws)
    rank = _standardised_fit(X, y, w, FEATURES)

    A, ya, wa = [], [], []
    for asked, wt in [(data.squad_abstain, 1.0)] + [(data.asked[n], weight) for n in key[0]]:
        for a in asked:
            A.append(abstain_features(a.X, rank.probability(a.X), a.cands, a.frame, a.index))
            ya.append(int(a.answerable))
            wa.append(wt)
    A, ya, wa = np.array(A), np.array(ya), np.array(wa)
    abstain = _standardised_fit(A, ya, wa, ABSTAIN_FEATURES)
    p = abstain.probability(A)
    abstain.threshold = float(np.quantile(p[ya == 1], TARGET_FALSE_ABSTAIN))
    out = {
        "rank": rank.to_json(),
        "abstain": abstain.to_json(),
        "trained_on": {
            "squad_v1_even_questions": len(data.squad_rank),
            "archives": list(key[0]),
            "archive_questions": sum(sum(a.labels is not None for a in data.asked[n]) for n in key[0]),
            "archive_weight": float(weight),
            "candidates": int(len(y)),
            "answerability_examples": int(len(ya)),
            "answerability_unanswerable": int((ya == 0).sum()),
            "target_false_abstain": TARGET_FALSE_ABSTAIN,
        },
        "script": "scripts/train_reranker.py",
    }
    data._fits[key] = out
    return out


def reranker_of(weights: dict) -> Reranker:
    """Load weights through the product's own loader (whatever it reads from the file)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reranker.json"
        path.write_text(json.dumps(weights), "utf-8")
        return Reranker.load(path)


def held_out_scores(data: TrainingData, held_out: str, weights: dict) -> dict:
    """score_qa.py's metrics on the held-out archive's qa.jsonl, answered as `qa batch` does with
    these weights."""
    key = (held_out, json.dumps(weights["rank"], sort_keys=True), json.dumps(weights["abstain"], sort_keys=True))
    if key not in data._scores:
        archive = data.opened[held_out]
        arch = data.arch(held_out)
        saved = archive._reranker
        archive._reranker = reranker_of(weights)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "answers.jsonl"
                archives_mod.batch_answers(archive, arch.qa, out)
                data._scores[key] = archives_mod.score_qa(arch, arch.qa, out)
        finally:
            archive._reranker = saved
    return data._scores[key]


def choose_weight(data: TrainingData, included: tuple[str, ...]) -> tuple[float, dict]:
    """The archive weight with the best mean leave-one-out hit@1 over the included archives (ties:
    the better mean MRR@5, then the smaller weight)."""
    if len(included) < 2:
        return DEFAULT_WEIGHT, {}
    table = {}
    for w in WEIGHT_CHOICES:
        per = {h: held_out_scores(data, h, fit(data, tuple(n for n in included if n != h), w)) for h in included}
        table[w] = {
            "held_out_hit@1": {h: m["hit@1"] for h, m in per.items()},
            "mean": round(float(np.mean([m["hit@1"] for m in per.values()])), 4),
            "mean_mrr@5": round(float(np.mean([m["mrr@5"] for m in per.values()])), 4),
        }
        log(f"  archive weight {w:g}: leave-one-out hit@1 " + ", ".join(f"{h} {m['hit@1']:.3f}" for h, m in per.items())
            + f"; mean {table[w]['mean']:.3f} (MRR@5 {table[w]['mean_mrr@5']:.3f})")
    best = max(WEIGHT_CHOICES, key=lambda w: (table[w]["mean"], table[w]["mean_mrr@5"], -w))
    return best, table


def train(data: TrainingData, exclude: list[str], weight: Optional[float] = None) -> dict:
    """Weights for SQuAD plus every archive of `data` not in `exclude` (names)."""
    included = tuple(a.name for a in data.archives if a.name not in exclude)
    selection = {}
    if weight is None:
        weight, selection = choose_weight(data, included)
    out = dict(fit(data, included, weight))
    out["trained_on"] = dict(out["trained_on"], excluded=sorted(exclude))
    if selection:
        out["weight_selection"] = {
            "choices": list(WEIGHT_CHOICES),
            "rule": "mean leave-one-archive-out hit@1 over the included archives (qa.jsonl, score_qa.py); "
            "ties: mean MRR@5, then the smaller weight",
            "results": {f"{w:g}": r for w, r in selection.items()},
            "chosen": weight,
        }
    return out


def inputs_digest(archives: list[DevArchive], exclude: list[str], sample: int, shared: Path, weight=None) -> str:
    """A key for cached weights: everything training reads or runs (code, models, data, options)."""
    h = hashlib.sha1()
    files = sorted(p for p in (ROOT / "qa").rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".onnx", ".txt")
                   and p.name != "reranker.json" and "__pycache__" not in p.parts)
    files += [ROOT / "scripts" / n for n in ("train_reranker.py", "archives.py", "squad.py")]
    for n in ("dev-v1.1.json", "dev-v2.0.rebuilt.json"):
        files.append(shared / "bench" / "squad" / n)
    for arch in archives:
        h.update(f"archive {arch.name}\n".encode())
        files += sorted(p for p in arch.corpus.rglob("*") if p.is_file())
        files += [p for p in (arch.qa, arch.conversations) if p]
    for p in files:
        h.update(str(p.relative_to(p.anchor)).encode())
        h.update(p.read_bytes() if p.exists() else b"<absent>")
    h.update(json.dumps([sorted(exclude), sample, weight, list(WEIGHT_CHOICES), DEFAULT_WEIGHT]).encode())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exclude", action="append", default=[], metavar="ARCHIVE",
                    help="leave this archive out of training (name or short name, e.g. v05); repeatable")
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH, help=f"where to write the weights (default {WEIGHTS_PATH})")
    ap.add_argument("--archive-weight", type=float, help="use this archive weight instead of choosing it")
    ap.add_argument("--sample", type=int, default=SQUAD_SAMPLE, help="SQuAD questions to learn from")
    ap.add_argument("--shared", type=Path, default=None, help="the shared development folder (default ../shared)")
    args = ap.parse_args()
    shared = args.shared or default_shared()
    t0 = time.time()
    found = list_archives(shared)
    excluded = [a.name for a in select(found, args.exclude)] if args.exclude else []
    log(f"archives: {', '.join(a.name for a in found) or 'none'}; left out: {', '.join(excluded) or 'none'}")
    data = collect([a for a in found if a.name not in excluded], args.sample, shared)
    out = train(data, excluded, args.archive_weight)
    # The run's own record of every archive left out, including those --exclude named.
    out["trained_on"]["excluded"] = excluded
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    t = out["trained_on"]
    log(f"archive weight {t['archive_weight']:g}; abstention threshold {out['abstain']['threshold']:.4f}")
    for name, c in sorted(zip(FEATURES, out["rank"]["coef"]), key=lambda t: -abs(t[1])):
        log(f"  {name:16s} {c:+.3f}")
    log(f"wrote {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()

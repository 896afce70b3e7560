"""Re-rank the pipeline's candidate lists with a cross-encoder delta and score them.

For each archive (seeds dev, v05, v14) and SQuAD odd articles: the pipeline's candidates for every
question (`Archive.rank`, ~48 sentences) ordered three ways:
  pipeline  the reranker's probability (what `qa ask` does today)
  cross     the cross-encoder's logit alone
  combo     logit(reranker probability) + cross-encoder logit
  combo16   the same over the reranker's best 16 candidates only, the rest after them unchanged
Reported: candidate recall@48 (a gold sentence is among the candidates at all), sentence hit@1/@3
(the top sentence(s) overlap gold), and for the archives hit@1/@3 of the extracts scored by
../shared/eval/score_qa.py exactly as `qa batch` output is (abstention decisions unchanged).

Usage: python scripts/eval_cross_encoder.py --delta qa/models/cross_encoder.npz [--only v05,v14]
       [--squad 500] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from squad import SHARED, hit, squad_archive  # noqa: E402
from train_cross_encoder import ARCHIVES, contains, gold_rows, open_archive, overlaps  # noqa: E402

from qa import cross_encoder as ce  # noqa: E402
from qa.engine import Archive, validate_question  # noqa: E402
from qa.spans import select  # noqa: E402
from qa.types import Answer  # noqa: E402

METHODS = ("pipeline", "cross", "combo", "combo16")
TOP = 16  # combo16: only the reranker's best TOP candidates are re-scored (a quarter of the work)
GOLD_FILES = {
    "seeds": SHARED / "eval" / "dev_qa.jsonl",
    "v05": SHARED / "archives" / "frus-1961-63-v05" / "qa.jsonl",
    "v14": SHARED / "archives" / "frus-1964-68-v14" / "qa.jsonl",
}


def orderings(probs: np.ndarray, cross: np.ndarray) -> dict[str, np.ndarray]:
    p = np.clip(probs, 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p)) + cross
    combo = 1 / (1 + np.exp(-z))
    top = np.zeros(len(probs), bool)
    top[np.argsort(-probs, kind="stable")[:TOP]] = True
    return {"pipeline": probs, "cross": 1 / (1 + np.exp(-cross)), "combo": combo,
            "combo16": np.where(top, 1.0 + combo, probs)}


def answers_for(archive: Archive, q: str, qvec, scorer, k: int = 5) -> tuple[dict[str, Answer], object, np.ndarray]:
    """One Answer per method for a question, as Archive._answer builds it, plus the candidates."""
    idx = archive.index
    frame, cands, probs, answerable = archive.rank(q, qvec)
    if len(cands) == 0:
        empty = Answer(question=q, abstained=True, answers=[], confidence=0.0)
        return {m: empty for m in METHODS}, cands, {m: np.zeros(0) for m in METHODS}
    cross = scorer.score(q, [idx.sentence_text(int(r)) for r in cands.rows])
    prob_of = dict(zip(cands.rows.tolist(), probs.tolist()))

    def carries_answer(first: int, last: int, neighbour: int) -> bool:
        return prob_of.get(neighbour, 0.0) >= 0.5

    out, scores = {}, orderings(probs, cross)
    for m, s in scores.items():
        extracts = select(idx, cands.rows, s, k, wants=carries_answer)
        abstained = answerable < archive.reranker.abstain_threshold
        out[m] = Answer(question=q, abstained=abstained, answers=[] if abstained else extracts,
                        closest=extracts if abstained else [], confidence=answerable)
    return out, cands, scores


def sentence_hits(rows: np.ndarray, score: np.ndarray, gold: set[int]) -> tuple[int, int]:
    order = rows[np.argsort(-score, kind="stable")]
    return int(int(order[0]) in gold) if len(order) else 0, int(bool(set(order[:3].tolist()) & gold))


def eval_archive(name: str, scorer) -> dict:
    archive = open_archive(name)
    idx = archive.index
    rows = [json.loads(l) for l in GOLD_FILES[name].read_text("utf-8").splitlines() if l.strip()]
    vecs = archive.embed_questions([validate_question(r["question"]) for r in rows])
    outputs = {m: [] for m in METHODS}
    recall = n = 0
    sent = {m: [0, 0] for m in METHODS}
    for r, v in zip(rows, vecs):
        answers, cands, scores = answers_for(archive, validate_question(r["question"]), v, scorer)
        for m in METHODS:
            outputs[m].append({"id": r["id"], **answers[m].to_json()})
        if not r["answerable"]:
            continue
        n += 1
        gold: set[int] = set()
        for doc in {g["doc"] for g in r["gold"]}:
            if doc in idx.doc_index:
                gold |= gold_rows(idx, doc, [(g["start"], g["end"]) for g in r["gold"] if g["doc"] == doc], overlaps)
        recall += bool(gold & set(cands.rows.tolist()))
        for m in METHODS:
            h1, h3 = sentence_hits(cands.rows, scores[m], gold)
            sent[m][0] += h1
            sent[m][1] += h3
    res = {"answerable": n, "recall@48": recall / max(n, 1)}
    for m in METHODS:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for o in outputs[m]:
                f.write(json.dumps(o) + "\n")
        proc = subprocess.run(
            [sys.executable, str(SHARED / "eval" / "score_qa.py"), str(GOLD_FILES[name]), f.name,
             str(ARCHIVES[name][0]), "--json"], capture_output=True, text=True, check=True)
        Path(f.name).unlink()
        scored = json.loads(proc.stdout)
        res[m] = {"sentence_hit@1": sent[m][0] / max(n, 1), "sentence_hit@3": sent[m][1] / max(n, 1),
                  "hit@1": scored["hit@1"], "hit@3": scored["hit@3"]}
    return res


def eval_squad(scorer, limit: int) -> dict:
    archive, questions = squad_archive("v1")
    idx = archive.index
    odd = [q for q in questions if q.article % 2 == 1 and q.answerable and q.spans]
    random.Random(1).shuffle(odd)  # the sample scripts/eval.py --squad-limit N takes
    odd = odd[:limit]
    vecs = archive.embed_questions([q.question for q in odd])
    recall = 0
    sent = {m: [0, 0] for m in METHODS}
    ext = {m: [0, 0] for m in METHODS}
    for q, v in zip(odd, vecs):
        answers, cands, scores = answers_for(archive, q.question, v, scorer)
        gold = gold_rows(idx, q.doc, q.spans, contains)
        recall += bool(gold & set(cands.rows.tolist()))
        for m in METHODS:
            h1, h3 = sentence_hits(cands.rows, scores[m], gold)
            sent[m][0] += h1
            sent[m][1] += h3
            ans = answers[m]
            if ans.abstained:
                continue
            rank = next((i + 1 for i, a in enumerate(ans.answers[:5]) if a.doc == q.doc and hit(a.start, a.end, q.spans)), None)
            ext[m][0] += rank == 1
            ext[m][1] += rank is not None and rank <= 3
    n = max(len(odd), 1)
    res = {"answerable": len(odd), "recall@48": recall / n}
    for m in METHODS:
        res[m] = {"sentence_hit@1": sent[m][0] / n, "sentence_hit@3": sent[m][1] / n,
                  "hit@1": ext[m][0] / n, "hit@3": ext[m][1] / n}
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delta", type=Path, default=ce.DELTA_PATH)
    ap.add_argument("--only", default="seeds,v05,v14,squad")
    ap.add_argument("--squad", type=int, default=500)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    t0 = time.time()
    scorer = ce.CrossEncoder.load(args.delta, threads=args.threads, log=lambda m: print(m, file=sys.stderr))
    results = {"delta": str(args.delta), "meta": ce.Delta.load(args.delta).meta}
    for name in args.only.split(","):
        t = time.time()
        results[name] = eval_squad(scorer, args.squad) if name == "squad" else eval_archive(name, scorer)
        r = results[name]
        line = " | ".join(f"{m} {r[m]['hit@1']:.3f}/{r[m]['hit@3']:.3f} (sent {r[m]['sentence_hit@1']:.3f}/{r[m]['sentence_hit@3']:.3f})"
                          for m in METHODS)
        print(f"{name}: n={r['answerable']} recall@48 {r['recall@48']:.3f} | {line} ({time.time() - t:.0f}s)", flush=True)
    results["seconds"] = round(time.time() - t0)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()

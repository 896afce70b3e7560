"""Answer quality in one table: BM25 only, dense only, naive fused hybrid, and the full pipeline.

(a) ../shared/eval/dev_qa.jsonl (and dev_conversations.jsonl) scored by ../shared/eval/score_qa.py;
(b) SQuAD v1.1 dev, odd-indexed articles (never trained on), all 48 articles indexed as documents:
    hit = the returned extract contains a gold answer span; hit@1, hit@5, MRR@5.

Usage: python scripts/eval.py [--squad-limit N] [--markdown docs/quality.md]
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
from squad import ROOT, SHARED, hit, squad_archive  # noqa: E402

from qa.engine import Archive  # noqa: E402
from qa.retrieve import candidates  # noqa: E402
from qa.spans import select  # noqa: E402
from qa.types import Answer  # noqa: E402

METHODS = ["bm25", "dense", "hybrid", "full"]


def answer(archive: Archive, method: str, question: str, qvec: np.ndarray, k: int = 5) -> Answer:
    if method == "full":
        return archive._answer(question, qvec, k, None)
    cands = candidates(archive.index, qvec, question)
    score = {"bm25": cands.bm25, "dense": cands.dense, "hybrid": cands.rrf}[method]
    if method == "bm25":  # BM25 alone cannot rank sentences that share no word with the question
        keep = cands.bm25 > 0
        cands_rows, score = cands.rows[keep], score[keep]
    else:
        cands_rows = cands.rows
    extracts = select(archive.index, cands_rows, np.asarray(score, dtype=np.float64), k)
    return Answer(question=question, abstained=not extracts, answers=extracts)


def score_dev(archive: Archive, gold: Path, method: str) -> dict:
    rows = [json.loads(l) for l in gold.read_text("utf-8").splitlines() if l.strip()]
    if method == "full":
        # Conversations are asked in order through one Conversation each, as `qa batch` does.
        convs: dict[str, object] = {}
        out = []
        for r in rows:
            c = r.get("conversation")
            if c:
                conv = convs.setdefault(c, archive.conversation())
                out.append({"id": r["id"], **conv.ask(r["question"]).to_json()})
            else:
                out.append({"id": r["id"], **archive.ask(r["question"]).to_json()})
    else:
        vecs = archive.embed_questions([r["question"] for r in rows])
        out = [{"id": r["id"], **answer(archive, method, r["question"], v).to_json()} for r, v in zip(rows, vecs)]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    proc = subprocess.run(
        [sys.executable, str(SHARED / "eval" / "score_qa.py"), str(gold), f.name, str(ROOT / "seeds"), "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)


def score_squad(archive: Archive, questions, method: str, vecs: np.ndarray) -> dict:
    h1 = h5 = mrr = abst = 0
    for q, v in zip(questions, vecs):
        ans = answer(archive, method, q.question, v)
        if ans.abstained:
            abst += 1
            continue
        rank = next(
            (i + 1 for i, a in enumerate(ans.answers[:5]) if a.doc == q.doc and hit(a.start, a.end, q.spans)), None
        )
        h1 += rank == 1
        h5 += rank is not None
        mrr += 1.0 / rank if rank else 0.0
    n = max(len(questions), 1)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr@5": mrr / n, "abstained": abst / n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad-limit", type=int, default=0, help="sample this many SQuAD questions (0 = all)")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args()
    t0 = time.time()

    seeds = Archive.open(ROOT / "seeds", log=lambda m: print(m, file=sys.stderr))
    dev = {m: score_dev(seeds, SHARED / "eval" / "dev_qa.jsonl", m) for m in METHODS}
    conv = score_dev(seeds, SHARED / "eval" / "dev_conversations.jsonl", "full")

    squad, questions = squad_archive("v1")
    odd = [q for q in questions if q.article % 2 == 1 and q.answerable and q.spans]
    if args.squad_limit:
        random.Random(1).shuffle(odd)
        odd = odd[: args.squad_limit]
    vecs = squad.embed_questions([q.question for q in odd])
    sq = {m: score_squad(squad, odd, m, vecs) for m in METHODS}

    lines = [
        f"Answer quality — `python scripts/eval.py{' --squad-limit ' + str(args.squad_limit) if args.squad_limit else ''}`",
        "",
        "| method | dev hit@1 | dev hit@3 | dev MRR@5 | speaker P@3 | abstain on unanswerable | false abstain "
        "| SQuAD odd hit@1 | SQuAD odd hit@5 | SQuAD odd MRR@5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        d, s = dev[m], sq[m]
        lines.append(
            f"| {m} | {d['hit@1']:.3f} | {d['hit@3']:.3f} | {d['mrr@5']:.3f} | {d['speaker_precision@3']} "
            f"| {d['abstain_on_unanswerable']:.3f} | {d['false_abstain']:.3f} "
            f"| {s['hit@1']:.3f} | {s['hit@5']:.3f} | {s['mrr@5']:.3f} |"
        )
    lines += [
        "",
        f"dev_qa: {dev['full']['answerable']} answerable + {dev['full']['unanswerable']} unanswerable questions; "
        f"not verbatim: {dev['full']['not_verbatim']}, too long: {dev['full']['too_long']}. "
        f"SQuAD: {len(odd)} questions of the odd-indexed articles (all 48 articles indexed, "
        f"{squad.state.sentences} sentences); full pipeline abstained on {sq['full']['abstained']:.3f} of them.",
        f"Conversations (dev_conversations.jsonl, full pipeline): hit@1 {conv['hit@1']:.3f}, hit@3 {conv['hit@3']:.3f}, "
        f"follow-up hit@1 {conv['followup_hit@1']}, follow-up hit@3 {conv['followup_hit@3']}.",
        f"({time.time() - t0:.0f}s)",
    ]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", "utf-8")


if __name__ == "__main__":
    main()

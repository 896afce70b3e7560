"""Fine-tune the packaged MiniLM as a cross-encoder (question, candidate sentence) -> relevance logit;
write the small delta (LoRA on the top layers, their layer norms, a head) to qa/models/cross_encoder.npz.

Training examples are the pipeline's own candidates: every question goes through `Archive.rank`
(the ~48 sentences the run-time pipeline gathers, ordered by the current reranker), so candidates
are the index's sentences exactly as they look at run time. Per question one group: the gold
sentence(s) and negatives (the reranker's hardest plus random others from the list); a listwise
softmax loss puts the gold sentences first.

Sources (only what may be learned from):
  squad   even-indexed articles of SQuAD v1.1 dev (a sentence is gold when it contains an answer span);
          a tenth of them (VALIDATION articles) is held out and scored first, before anything else;
  seeds   ../shared/eval/dev_qa.jsonl and dev_conversations.jsonl turn 1 over seeds/;
  v05     ../shared/archives/frus-1961-63-v05 qa.jsonl + conversations.jsonl turn 1;
  v14     ../shared/archives/frus-1964-68-v14, the same;
  (archives: a sentence is gold when it overlaps a gold span by the scorer's rule.)
`--exclude NAME` (repeatable) leaves an archive out, for leave-one-archive-out reports;
`--init DELTA` continues from a trained delta (a short second stage on the archives).

Seeds are fixed; runs on the CPU (`--threads`, default 1: on a shared 2-core machine one thread
per process is faster than two). Usage:
  python scripts/train_cross_encoder.py --out qa/models/cross_encoder.npz [--squad 1500] [--exclude v05]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from squad import CACHE, ROOT, SHARED, squad_archive  # noqa: E402

from qa import cross_encoder as ce  # noqa: E402
from qa.engine import Archive  # noqa: E402

ARCHIVES = {
    "seeds": (ROOT / "seeds", [SHARED / "eval" / "dev_qa.jsonl", SHARED / "eval" / "dev_conversations.jsonl"]),
    "v05": (SHARED / "archives" / "frus-1961-63-v05" / "corpus",
            [SHARED / "archives" / "frus-1961-63-v05" / f for f in ("qa.jsonl", "conversations.jsonl")]),
    "v14": (SHARED / "archives" / "frus-1964-68-v14" / "corpus",
            [SHARED / "archives" / "frus-1964-68-v14" / f for f in ("qa.jsonl", "conversations.jsonl")]),
}
HARD = 3  # negatives per group taken from the top of the reranker's order
HEAD_LR = 5.0  # the head's learning rate, relative to --lr
RANDOM = 2  # negatives per group drawn from the rest of the candidate list


def is_validation(article: int) -> bool:
    """A tenth of SQuAD's even articles, never trained on: the script's first number."""
    return article % 20 == 0


@dataclass
class Question:
    """One question with its candidate list as the pipeline ranks it and the gold rows."""

    source: str
    question: str
    rows: np.ndarray  # candidate sentence rows, in the reranker's order
    probs: np.ndarray  # the reranker's probabilities, same order
    gold: set = field(default_factory=set)  # rows of gold sentences (candidates or not)
    texts: dict = field(default_factory=dict)  # row -> sentence text


def overlaps(s: int, e: int, golds) -> bool:
    """The scorer's rule: the overlap covers half of the gold span or half of the sentence."""
    for gs, ge in golds:
        ov = max(0, min(e, ge) - max(s, gs))
        if ov >= 0.5 * (ge - gs) or ov >= 0.5 * (e - s):
            return True
    return False


def gold_rows(index, doc: str, spans, rule) -> set[int]:
    d = index.docs[index.doc_index[doc]]
    return {r for r in range(d.sent_lo, d.sent_hi) if rule(int(index.sent_start[r]), int(index.sent_end[r]), spans)}


def contains(s: int, e: int, spans) -> bool:
    return any(s <= gs and ge <= e for gs, ge in spans)


def ranked(archive: Archive, items: list[dict], source: str, rule) -> list[Question]:
    """Each item ({question, gold: [(doc, start, end)]}) with its pipeline candidates and gold rows."""
    idx = archive.index
    vecs = archive.embed_questions([it["question"] for it in items])
    out = []
    for it, v in zip(items, vecs):
        _, cands, probs, _ = archive.rank(it["question"], v)
        order = np.argsort(-probs, kind="stable")
        gold: set[int] = set()
        for doc in {g[0] for g in it["gold"]}:
            if doc in idx.doc_index:
                gold |= gold_rows(idx, doc, [(s, e) for d, s, e in it["gold"] if d == doc], rule)
        if not gold:
            continue
        rows = cands.rows[order]
        texts = {int(r): idx.sentence_text(int(r)) for r in set(rows.tolist()) | gold}
        out.append(Question(source, it["question"], rows, probs[order], gold, texts))
    return out


def archive_items(paths: list[Path]) -> list[dict]:
    items = []
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if int(r.get("turn", 1)) != 1 or not r.get("answerable", True) or not r.get("gold"):
                continue  # follow-ups need their conversation; unanswerable ones have no gold
            items.append({"question": r["question"], "gold": [(g["doc"], g["start"], g["end"]) for g in r["gold"]]})
    return items


def selected_archives(exclude: list[str]) -> list[str]:
    unknown = sorted(set(exclude) - set(ARCHIVES))
    if unknown:
        raise SystemExit(f"unknown archive(s) to exclude: {', '.join(unknown)} (choose from {', '.join(ARCHIVES)})")
    return [name for name in ARCHIVES if name not in exclude]


def open_archive(name: str) -> Archive:
    corpus, _ = ARCHIVES[name]
    return Archive.open(corpus, CACHE / f"index-{name}", log=lambda m: print(m, file=sys.stderr))


def build_data(squad_n: int, exclude: list[str], seed: int = 0, log=print, val_n: int = 100):
    """(train questions, validation questions). Validation: held-out SQuAD even articles."""
    rng = random.Random(seed)
    train: list[Question] = []
    val: list[Question] = []
    if squad_n > 0 or val_n > 0:
        archive, questions = squad_archive("v1")
        even = [q for q in questions if q.article % 2 == 0 and q.answerable and q.spans]
        held = [q for q in even if is_validation(q.article)]
        pool = [q for q in even if not is_validation(q.article)]
        rng.shuffle(pool)
        rng.shuffle(held)

        def items(qs):
            return [{"question": q.question, "gold": [(q.doc, s, e) for s, e in q.spans]} for q in qs]

        t0 = time.time()
        train += ranked(archive, items(pool[:squad_n]), "squad", contains)
        val += ranked(archive, items(held[:val_n]), "squad-val", contains)
        log(f"squad: {len(train)} training and {len(val)} validation questions ({time.time() - t0:.0f}s)")
    for name in selected_archives(exclude):
        t0 = time.time()
        qs = ranked(open_archive(name), archive_items(ARCHIVES[name][1]), name, overlaps)
        train += qs
        log(f"{name}: {len(qs)} training questions ({time.time() - t0:.0f}s)")
    return train, val


def groups(questions: list[Question], rng: random.Random) -> list[tuple[list[str], str, np.ndarray]]:
    """(texts, question, gold mask) per question: gold sentences + hard + random negatives."""
    out = []
    for q in questions:
        gold = sorted(q.gold, key=lambda r: (r not in set(q.rows.tolist()), r))[:2]
        negs = [int(r) for r in q.rows if int(r) not in q.gold]
        chosen = negs[:HARD]
        rest = negs[HARD:]
        chosen += rng.sample(rest, min(RANDOM, len(rest)))
        if not chosen:
            continue
        rows = gold + chosen
        out.append(([q.texts[r] for r in rows], q.question, np.array([r in q.gold for r in rows])))
    return out


def evaluate(model_score, questions: list[Question]) -> dict:
    """hit@1 / hit@3 over each question's candidates, for the reranker and for the cross-encoder."""
    found = [q for q in questions if q.gold & set(q.rows.tolist())]
    res = {"questions": len(questions), "recall": len(found) / max(len(questions), 1)}
    for name in ("reranker", "cross"):
        h1 = h3 = 0
        for q in found:
            if name == "reranker":
                order = q.rows
            else:
                scores = model_score(q.question, [q.texts[int(r)] for r in q.rows])
                order = q.rows[np.argsort(-scores, kind="stable")]
            h1 += int(order[0]) in q.gold
            h3 += bool(set(order[:3].tolist()) & q.gold)
        n = max(len(questions), 1)
        res[name] = {"hit@1": h1 / n, "hit@3": h3 / n}
    return res


def torch_scorer(model, tok):
    import torch

    def score(question: str, texts: list[str]) -> np.ndarray:
        pairs = ce.encode_pairs(tok, question, texts)
        with torch.no_grad():
            return model(*(torch.from_numpy(a) for a in ce.pad(pairs))).numpy()

    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ce.DELTA_PATH)
    ap.add_argument("--squad", type=int, default=1500, help="SQuAD even-article questions to train on")
    ap.add_argument("--exclude", action="append", default=[], help="archive to leave out: seeds, v05, v14")
    ap.add_argument("--init", type=Path, help="continue from this delta")
    ap.add_argument("--layers", default="3,4,5", help="transformer layers carrying LoRA")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--archive-repeat", type=int, default=2, help="times each archive question is seen per epoch")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=4, help="questions per step")
    ap.add_argument("--val", type=int, default=100, help="held-out SQuAD questions to validate on")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    t_start = time.time()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731

    train, val = build_data(args.squad, args.exclude, args.seed, log, args.val)
    if args.init:
        model = ce.torch_model(ce.Delta.load(args.init))
    else:
        model = ce.torch_model(layers=[int(x) for x in args.layers.split(",")], rank=args.rank)
    tok = ce.tokenizer()

    weighted = [q for q in train if q.source == "squad"] + [q for q in train if q.source != "squad"] * args.archive_repeat
    steps_per_epoch = (len(weighted) + args.batch - 1) // args.batch
    total = max(1, int(steps_per_epoch * args.epochs))
    params = model.trainable()
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    # The head starts from nothing: it learns faster than the low-rank updates beneath it.
    opt = torch.optim.AdamW([{"params": body}, {"params": head, "lr": args.lr * HEAD_LR}], lr=args.lr, weight_decay=0.01)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm + 1))))
    log(f"training {sum(p.numel() for p in params)} parameters on {len(train)} questions, {total} steps of {args.batch}")
    model.train()
    step, t0, running = 0, time.time(), []
    while step < total:
        batch_groups = groups(rng.sample(weighted, len(weighted)), rng)
        for i in range(0, len(batch_groups), args.batch):
            if step >= total:
                break
            chunk = batch_groups[i : i + args.batch]
            pairs, spans = [], []
            for texts, question, _ in chunk:
                spans.append((len(pairs), len(pairs) + len(texts)))
                pairs += ce.encode_pairs(tok, question, texts)
            logits = model(*(torch.from_numpy(a) for a in ce.pad(pairs)))
            loss = 0.0
            for (a, b), (_, _, gold) in zip(spans, chunk):
                g = logits[a:b]
                loss = loss + torch.logsumexp(g, 0) - torch.logsumexp(g[torch.from_numpy(gold)], 0)
            loss = loss / len(chunk)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            running.append(loss.item())
            step += 1
            if step % 25 == 0 or step == total:
                log(f"step {step}/{total}: loss {np.mean(running[-25:]):.3f} ({time.time() - t0:.0f}s)")
    model.eval()
    if val:
        v = evaluate(torch_scorer(model, tok), val)
        log(f"validation ({v['questions']} questions of held-out SQuAD even articles, recall@48 {v['recall']:.3f}): reranker hit@1 {v['reranker']['hit@1']:.3f} hit@3 {v['reranker']['hit@3']:.3f}, "
            f"cross-encoder hit@1 {v['cross']['hit@1']:.3f} hit@3 {v['cross']['hit@3']:.3f}")
    sources = sorted({q.source for q in train})
    meta = {
        "trained_on": {s: sum(q.source == s for q in train) for s in sources},
        "excluded": sorted(args.exclude),
        # A second stage records what the first one learned from, so the shipped file tells it all.
        "init": {"file": args.init.name, **{k: v for k, v in ce.Delta.load(args.init).meta.items()
                                            if k in ("trained_on", "excluded", "steps", "lr", "validation", "init")}}
        if args.init else None,
        "steps": total,
        "batch_questions": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "validation": v if val else None,
        "script": "scripts/train_cross_encoder.py",
    }
    delta = model.delta(meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    delta.save(args.out)
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()

"""Candidate generation: dense (sentence and passage level) and BM25, fused by reciprocal rank.

Every candidate is one indexed sentence, carrying the raw scores that the reranker turns into
features, so nothing computed here is thrown away.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .index import LoadedIndex
from .text import tokens

RRF_K = 60  # the constant of Cormack et al. (2009); rank fusion is insensitive to it
DENSE_DEPTH = 60
BM25_DEPTH = 60
PASSAGE_DEPTH = 12
# Only the best candidates by fused rank go on to the (costlier) reranker features.
RERANK_DEPTH = 48


@dataclass
class Candidates:
    """Parallel arrays over candidate sentences (global sentence rows)."""

    rows: np.ndarray  # int64 sentence ids
    dense: np.ndarray  # cosine of question and sentence
    bm25: np.ndarray  # raw BM25 score of the sentence
    passage: np.ndarray  # best cosine of a passage containing the sentence
    rrf: np.ndarray  # fused reciprocal-rank score

    def __len__(self) -> int:
        return len(self.rows)

    def order(self) -> np.ndarray:
        return np.argsort(-self.rrf, kind="stable")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def allowed_rows(index: LoadedIndex, doc_ids: Optional[set[int]]) -> Optional[np.ndarray]:
    """Sentence rows of the documents a user restricted the search to (None = everything)."""
    if doc_ids is None:
        return None
    parts = [np.arange(index.docs[d].sent_lo, index.docs[d].sent_hi) for d in sorted(doc_ids)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def dense_search(index: LoadedIndex, qvec: np.ndarray, depth: int, allowed: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if allowed is not None:
        # A filtered search is over few documents: exact scores straight from the vectors.
        sims = np.asarray(index.sent_vecs[allowed]) @ qvec
        top = _top(sims, depth)
        return allowed[top], sims[top]
    if index.n_sentences == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores, ids = index.sent_faiss.search(qvec.reshape(1, -1).astype(np.float32), min(depth, index.n_sentences))
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]


def passage_search(index: LoadedIndex, qvec: np.ndarray, depth: int, allowed_docs: Optional[set[int]]) -> dict[int, float]:
    """Best passage cosine per sentence row, for sentences in the top passages."""
    if index.n_passages == 0:
        return {}
    if allowed_docs is not None:
        prow = np.flatnonzero(np.isin(index.pass_doc, list(allowed_docs)))
        sims = np.asarray(index.pass_vecs[prow]) @ qvec
        top = _top(sims, depth)
        ids, scores = prow[top], sims[top]
    else:
        s, i = index.pass_faiss.search(qvec.reshape(1, -1).astype(np.float32), min(depth, index.n_passages))
        keep = i[0] >= 0
        ids, scores = i[0][keep], s[0][keep]
    best: dict[int, float] = {}
    for p, sc in zip(ids, scores):
        for r in range(int(index.pass_first[p]), int(index.pass_last[p]) + 1):
            if sc > best.get(r, -1.0):
                best[r] = float(sc)
    return best


def bm25_scores(index: LoadedIndex, query_tokens: list[str]) -> np.ndarray:
    if not query_tokens or index.n_sentences == 0:
        return np.zeros(index.n_sentences, dtype=np.float32)
    vocab = index.bm25.vocab_dict
    known = [t for t in query_tokens if t in vocab]
    if not known:
        return np.zeros(index.n_sentences, dtype=np.float32)
    return np.asarray(index.bm25.get_scores(known), dtype=np.float32)


def candidates(
    index: LoadedIndex,
    qvec: np.ndarray,
    question: str,
    doc_ids: Optional[set[int]] = None,
    query_tokens: Optional[list[str]] = None,
    include_metadata: bool = True,
    rows_filter: Optional[np.ndarray] = None,
    include_structure: bool = False,
) -> Candidates:
    """Candidates among all sentences, or those of `doc_ids`, or exactly the rows of `rows_filter`.

    A document's furniture (section "structure": datelines, salutations, signatures …) is left out
    unless `include_structure` (the question asks for a date, place or signature of a document).
    """
    allowed = rows_filter if rows_filter is not None else allowed_rows(index, doc_ids)
    d_rows, d_scores = dense_search(index, qvec, DENSE_DEPTH, allowed)
    qtok = tokens(question) if query_tokens is None else query_tokens
    all_bm25 = bm25_scores(index, qtok)
    if allowed is not None:
        masked = np.full_like(all_bm25, -1.0)
        masked[allowed] = all_bm25[allowed]
        all_bm25 = masked
    b_rows = _top(all_bm25, BM25_DEPTH)
    b_rows = b_rows[all_bm25[b_rows] > 0]
    p_docs = doc_ids if rows_filter is None else {int(d) for d in np.unique(index.sent_doc[rows_filter])}
    p_best = passage_search(index, qvec, PASSAGE_DEPTH, p_docs)
    if rows_filter is not None:
        keep = set(rows_filter.tolist())
        p_best = {r: v for r, v in p_best.items() if r in keep}

    rows = np.unique(np.concatenate([d_rows, b_rows, np.fromiter(p_best.keys(), dtype=np.int64, count=len(p_best))]))
    if not include_metadata:
        rows = rows[index.sent_section[rows] != 1]
    if not include_structure:
        rows = rows[index.sent_section[rows] != 2]
    if len(rows) == 0:
        z = np.zeros(0, dtype=np.float32)
        return Candidates(rows.astype(np.int64), z, z, z, z)
    # Exact dense score for every candidate, whichever list brought it in.
    dense = np.asarray(index.sent_vecs[rows]) @ qvec
    bm = np.maximum(all_bm25[rows], 0.0)
    passage = np.array([p_best.get(int(r), 0.0) for r in rows], dtype=np.float32)

    rrf = np.zeros(len(rows), dtype=np.float64)
    for scores, present in ((dense, np.ones(len(rows), bool)), (bm, bm > 0), (passage, passage > 0)):
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty(len(rows), dtype=np.int64)
        ranks[order] = np.arange(len(rows))
        rrf += np.where(present, 1.0 / (RRF_K + 1 + ranks), 0.0)
    keep = np.argsort(-rrf, kind="stable")[:RERANK_DEPTH]
    return Candidates(rows[keep].astype(np.int64), dense[keep].astype(np.float32), bm[keep].astype(np.float32), passage[keep], rrf[keep])

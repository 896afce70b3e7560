"""Learned reranking of candidate sentences.

Each candidate gets a feature vector (dense and lexical similarity of the sentence and its
neighbourhood, coverage of the question's content words, answer-type cues, speaker match …). A
logistic regression learned by `scripts/train_reranker.py` turns it into the probability that the
sentence answers the question. The weights live in `qa/models/reranker.json`; nothing is trained
at run time.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .index import LoadedIndex
from .question import QuestionFrame
from .retrieve import Candidates
from .text import NUMBER_RE, stem, tokens, words

WEIGHTS_PATH = Path(__file__).parent / "models" / "reranker.json"

FEATURES = [
    "dense",  # cosine(question, sentence)
    "dense_gap",  # dense minus the best dense among candidates
    "passage",  # best cosine of a passage holding the sentence
    "window_dense",  # best cosine of the previous or next sentence
    "bm25_rel",  # BM25 / best BM25 among candidates
    "coverage",  # IDF-weighted share of the question's topic words found in the sentence
    "window_coverage",  # the same over previous + sentence + next
    "bigram",  # share of the question's consecutive topic-word pairs present in the sentence
    "rrf",  # fused rank score of candidate generation
    "type_match",  # the sentence has what the question type asks for (number, date, name)
    "novelty",  # share of the sentence's content words not in the question (answers add information)
    "log_len",
    "metadata",  # editorial text, not the document's own
    "speaker_match",  # the question asks what X said and X says this sentence
    "speaker_other",  # the question asks what X said and somebody else says this sentence
    "mentioned_in",  # a person the question names appears in the sentence
    "coverage_gap",  # coverage minus the best coverage among candidates
    "window_coverage_gap",
    "passage_gap",  # passage minus the best passage cosine among candidates
    "dense_rank",  # 1 / (1 + rank by dense cosine among candidates)
    "prev_coverage",  # coverage of the previous sentence: the question may paraphrase the lead-in
    "next_coverage",
    "agent",  # "Who translated X?" and the sentence says "translated by <Name>"
]

_BY_AGENT = re.compile(r"\b([A-Za-z]+(?:ed|en|t))\s+by\s+(?:the\s+)?[A-Z]")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_MONTH = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")
_CAP = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_NUM_WORDS = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|twenty|thirty|forty|fifty|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|dozen|half|percent)\b",
    re.I,
)


ABSTAIN_FEATURES = [
    "top_prob",  # the reranker's probability for the best sentence
    "top_dense",  # best absolute cosine among candidates
    "max_coverage",  # best share of the question's topic words in one sentence
    "max_window_coverage",
    "max_passage",
    "log_max_bm25",
    "oov_share",  # IDF-weighted share of topic words the archive never uses
]


@dataclass
class LogisticModel:
    """Standardised logistic regression: the whole learned state is four arrays in JSON."""

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5

    @classmethod
    def from_json(cls, data: dict, expected: list[str], path: Path) -> "LogisticModel":
        if data["features"] != expected:
            raise ValueError(
                f"{path} was trained on features {data['features']}, the code computes {expected}: "
                "run scripts/train_reranker.py"
            )
        return cls(
            features=list(data["features"]),
            mean=np.array(data["mean"], dtype=np.float64),
            scale=np.array(data["scale"], dtype=np.float64),
            coef=np.array(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            threshold=float(data.get("threshold", 0.5)),
        )

    def to_json(self) -> dict:
        return {
            "features": self.features,
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": round(float(self.intercept), 6),
            "threshold": round(float(self.threshold), 6),
        }

    def probability(self, X: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Reranker:
    """Sentence ranking model plus the answerability model that decides abstention."""

    rank: LogisticModel
    abstain: LogisticModel

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> "Reranker":
        data = json.loads(Path(path).read_text("utf-8"))
        return cls(
            LogisticModel.from_json(data["rank"], FEATURES, path),
            LogisticModel.from_json(data["abstain"], ABSTAIN_FEATURES, path),
        )

    def probability(self, X: np.ndarray) -> np.ndarray:
        return self.rank.probability(X)

    def answerable(
        self, X: np.ndarray, probs: np.ndarray, cands: Candidates, frame: QuestionFrame, index: LoadedIndex
    ) -> float:
        """Calibrated probability that the archive answers the question at all."""
        return float(self.abstain.probability(abstain_features(X, probs, cands, frame, index))[0])

    @property
    def abstain_threshold(self) -> float:
        return self.abstain.threshold


def abstain_features(
    X: np.ndarray, probs: np.ndarray, cands: Candidates, frame: QuestionFrame, index: LoadedIndex
) -> np.ndarray:
    f = np.zeros(len(ABSTAIN_FEATURES))
    if len(X):
        f[0] = probs.max()
        f[1] = X[:, FEATURES.index("dense")].max()
        f[2] = X[:, FEATURES.index("coverage")].max()
        f[3] = X[:, FEATURES.index("window_coverage")].max()
        f[4] = X[:, FEATURES.index("passage")].max()
        f[5] = np.log1p(float(cands.bm25.max()))
    idf = idf_of(index)
    topic = list(dict.fromkeys(frame.topic_tokens))
    if topic:
        w = {t: idf.get(t, index._idf_max) for t in topic}
        f[6] = sum(v for t, v in w.items() if t not in idf) / sum(w.values())
    return f


def _idf_table(index: LoadedIndex) -> dict[str, float]:
    bm = index.bm25
    indptr = np.asarray(bm.scores["indptr"])
    n = max(int(bm.scores["num_docs"]), 1)
    df = np.zeros(len(bm.vocab_dict), dtype=np.float64)
    m = min(len(indptr) - 1, len(df))
    df[:m] = np.diff(indptr)[:m]
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
    return {tok: float(idf[i]) for tok, i in bm.vocab_dict.items()}


def idf_of(index: LoadedIndex) -> dict[str, float]:
    """Inverse document frequency over sentences, from the BM25 index (computed once per index)."""
    table = getattr(index, "_idf", None)
    if table is None:
        table = index._idf = _idf_table(index)
        index._idf_max = max(table.values(), default=1.0)
    return table


def sentence_tokens(index: LoadedIndex, row: int) -> list[str]:
    """BM25 tokens of a sentence, memoised on the index (the same sentences recur across questions)."""
    cache = getattr(index, "_tokens", None)
    if cache is None:
        cache = index._tokens = {}
    toks = cache.get(row)
    if toks is None:
        toks = index.saved_tokens(row)
        if toks is None:
            toks = tokens(index.sentence_text(row))
        cache[row] = toks
    return toks


def _type_match(kind: str | None, sentence: str, question_words: set[str]) -> float:
    if kind == "number":
        return float(bool(NUMBER_RE.search(sentence) or _NUM_WORDS.search(sentence)))
    if kind == "date":
        return float(bool(_YEAR.search(sentence) or _MONTH.search(sentence)))
    if kind in ("person", "place"):
        names = {m.group(0).lower() for m in _CAP.finditer(sentence)}
        return float(bool(names - question_words))
    return 0.0


def featurize(index: LoadedIndex, cands: Candidates, frame: QuestionFrame, qvec: np.ndarray) -> np.ndarray:
    n = len(cands)
    X = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return X
    idf = idf_of(index)
    topic = list(dict.fromkeys(frame.topic_tokens))
    unseen = index._idf_max  # a word the archive never uses is as rare as it gets
    weights = {t: idf.get(t, unseen) for t in topic}
    total = sum(weights.values()) or 1.0
    bigrams = set(zip(frame.topic_tokens, frame.topic_tokens[1:]))
    qwords = set(words(frame.text))
    qstems = {stem(w) for w in qwords}
    mentioned = [m.lower() for m in frame.mentioned]
    wanted = set(frame.speakers)

    rows = cands.rows
    n_sent = index.n_sentences
    prev_rows = np.clip(rows - 1, 0, n_sent - 1)
    next_rows = np.clip(rows + 1, 0, n_sent - 1)
    same_prev = (index.sent_doc[prev_rows] == index.sent_doc[rows]) & (rows > 0)
    same_next = (index.sent_doc[next_rows] == index.sent_doc[rows]) & (rows < n_sent - 1)
    dprev = np.where(same_prev, np.asarray(index.sent_vecs[prev_rows]) @ qvec, 0.0)
    dnext = np.where(same_next, np.asarray(index.sent_vecs[next_rows]) @ qvec, 0.0)
    best_bm = float(cands.bm25.max()) or 1.0

    X[:, 0] = cands.dense
    X[:, 1] = cands.dense - cands.dense.max()
    X[:, 2] = cands.passage
    X[:, 3] = np.maximum(dprev, dnext)
    X[:, 4] = cands.bm25 / best_bm
    X[:, 8] = cands.rrf * 60.0
    for i, r in enumerate(rows):
        r = int(r)
        sent = index.sentence_text(r)
        toks = sentence_tokens(index, r)
        tset = set(toks)
        prev_t = set(sentence_tokens(index, r - 1)) if same_prev[i] else set()
        next_t = set(sentence_tokens(index, r + 1)) if same_next[i] else set()
        win = tset | prev_t | next_t
        X[i, 20] = sum(w for t, w in weights.items() if t in prev_t) / total
        X[i, 21] = sum(w for t, w in weights.items() if t in next_t) / total
        X[i, 5] = sum(w for t, w in weights.items() if t in tset) / total
        X[i, 6] = sum(w for t, w in weights.items() if t in win) / total
        if bigrams:
            pairs = set(zip(toks, toks[1:]))
            X[i, 7] = len(bigrams & pairs) / len(bigrams)
        X[i, 9] = _type_match(frame.answer_type, sent, qwords)
        X[i, 10] = len([t for t in tset if t not in qstems]) / max(len(tset), 1)
        X[i, 11] = math.log1p(len(sent))
        X[i, 12] = float(index.sent_section[r] == 1)
        speaker = index.sent_speaker[r]
        if wanted:
            X[i, 13] = float(speaker in wanted)
            X[i, 14] = float(speaker is not None and speaker not in wanted)
        if mentioned:
            low = sent.lower()
            X[i, 15] = float(any(m in low for m in mentioned))
    if frame.answer_type == "person":
        verbs = set(frame.topic_tokens)
        for i, r in enumerate(rows):
            for m in _BY_AGENT.finditer(index.sentence_text(int(r))):
                if set(tokens(m.group(1))) & verbs:
                    X[i, 22] = 1.0
                    break
    X[:, 16] = X[:, 5] - X[:, 5].max()
    X[:, 17] = X[:, 6] - X[:, 6].max()
    X[:, 18] = X[:, 2] - X[:, 2].max()
    ranks = np.empty(n)
    ranks[np.argsort(-cands.dense, kind="stable")] = np.arange(n)
    X[:, 19] = 1.0 / (1.0 + ranks)
    return X

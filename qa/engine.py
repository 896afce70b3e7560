"""The one object that answers questions. CLI, batch, grading and the TUI all call `Archive`."""
from __future__ import annotations

import sys
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from . import index as index_mod
from .config import MAX_QUESTION_CHARS, default_corpus, default_index
from .embed import Encoder
from .retrieve import candidates
from .spans import select
from .types import Answer

Log = Callable[[str], None]


class BadQuestion(ValueError):
    """The question cannot be asked as typed (empty, too long, control characters)."""


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    q = question.strip()
    if not q:
        raise BadQuestion("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is too long ({len(q)} characters; the limit is {MAX_QUESTION_CHARS})")
    bad = [c for c in q if unicodedata.category(c) == "Cc" and c != "\t"]
    if bad:
        raise BadQuestion(f"the question contains control characters ({', '.join(repr(c) for c in sorted(set(bad)))})")
    return q


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


@dataclass
class IndexState:
    documents: int
    sentences: int
    passages: int
    state: str  # "fresh", "refreshed", "rebuilt"
    detail: str = ""


class Archive:
    """A corpus folder plus its persisted index, ready to answer.

    >>> archive = Archive.open("seeds")
    >>> answer = archive.ask("What did Rusk say about July?")
    >>> answer.answers[0].quote
    """

    def __init__(self, corpus: Path, index_dir: Path, encoder: Optional[Encoder] = None, log: Log = _stderr):
        self.corpus = Path(corpus)
        self.index_dir = Path(index_dir)
        self.encoder = encoder or Encoder()
        self.log = log
        self.index: Optional[index_mod.LoadedIndex] = None
        self.state: Optional[IndexState] = None
        self.last_build: Optional[index_mod.BuildReport] = None
        self._lock = threading.RLock()

    # -- opening and refreshing ------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        corpus: Optional[Path | str] = None,
        index_dir: Optional[Path | str] = None,
        refresh: bool = True,
        log: Log = _stderr,
        progress_factory=None,
        encoder: Optional[Encoder] = None,
    ) -> "Archive":
        corpus = Path(corpus) if corpus else default_corpus()
        index_dir = Path(index_dir) if index_dir else default_index(corpus)
        archive = cls(corpus, index_dir, encoder=encoder, log=log)
        archive.ensure_index(refresh=refresh, progress_factory=progress_factory)
        return archive

    def ensure_index(self, refresh: bool = True, progress_factory=None) -> IndexState:
        """Load the index, rebuilding it when missing, corrupt or (with refresh) stale."""
        with self._lock:
            loaded = None
            problem = None
            try:
                candidate = index_mod.load(self.index_dir)
                candidate.warm()
                loaded = candidate
            except index_mod.IndexMissing:
                problem = "missing"
            except index_mod.IndexCorrupt as exc:
                problem = f"corrupt ({exc})"
                self.log(f"index in {self.index_dir} is corrupt: {exc}; rebuilding it")
            if loaded is not None and not refresh:
                self._set(loaded, "fresh")
                return self.state
            if not self.corpus.is_dir():
                raise index_mod.docs_mod.CorpusError(f"corpus folder not found: {self.corpus}")
            if loaded is not None:
                st = index_mod.staleness(self.corpus, loaded)
                if not st.stale:
                    self._set(loaded, "fresh")
                    return self.state
                self.log(f"index is stale ({st.describe()}); refreshing")
            report = index_mod.build(
                self.corpus, self.index_dir, self.encoder, log=self.log, progress_factory=progress_factory
            )
            self.last_build = report
            loaded = index_mod.load(self.index_dir)
            loaded.warm()
            self._set(loaded, "rebuilt" if problem else "refreshed", detail=problem or "")
            return self.state

    def _set(self, loaded: index_mod.LoadedIndex, state: str, detail: str = "") -> None:
        self.index = loaded
        self.state = IndexState(len(loaded.docs), loaded.n_sentences, loaded.n_passages, state, detail)

    def _require_index(self) -> index_mod.LoadedIndex:
        if self.index is None:
            self.ensure_index()
        assert self.index is not None
        return self.index

    # -- documents --------------------------------------------------------------------------------
    @property
    def documents(self) -> list[index_mod.DocRecord]:
        return self._require_index().docs

    def document_text(self, doc: str) -> str:
        idx = self._require_index()
        return idx.texts[idx.doc_index[doc]]

    def doc_ids(self, docs: Optional[Iterable[str]]) -> Optional[set[int]]:
        if docs is None:
            return None
        idx = self._require_index()
        out = set()
        for d in docs:
            if d not in idx.doc_index:
                raise KeyError(f"no document {d!r} in this archive")
            out.add(idx.doc_index[d])
        return out

    # -- answering --------------------------------------------------------------------------------
    def conversation(self):
        """A new dialogue whose follow-up questions are understood in the context of earlier turns."""
        from .conversation import Conversation

        return Conversation(self)

    def embed_questions(self, questions: list[str]) -> np.ndarray:
        return self.encoder.encode(questions)

    def ask(self, question: str, k: int = 5, docs: Optional[Iterable[str]] = None) -> Answer:
        q = validate_question(question)
        qvec = self.embed_questions([q])[0]
        return self._answer(q, qvec, k, self.doc_ids(docs))

    def ask_many(self, questions: list[str], k: int = 5) -> list[Answer | BadQuestion]:
        """Answer many questions with one batched embedding call; bad ones come back as exceptions."""
        valid: list[tuple[int, str]] = []
        out: list[Answer | BadQuestion] = [None] * len(questions)  # type: ignore[list-item]
        for i, q in enumerate(questions):
            try:
                valid.append((i, validate_question(q)))
            except BadQuestion as exc:
                out[i] = exc
        vecs = self.embed_questions([q for _, q in valid])
        for (i, q), v in zip(valid, vecs):
            out[i] = self._answer(q, v, k, None)
        return out

    def _answer(self, q: str, qvec: np.ndarray, k: int, doc_ids: Optional[set[int]]) -> Answer:
        idx = self._require_index()
        cands = candidates(idx, qvec, q, doc_ids)
        if len(cands) == 0:
            return Answer(question=q, abstained=True, answers=[], confidence=0.0)
        # Fused score scaled to [0, 1]: 1.0 = first in all three rankings.
        score = cands.rrf / (3.0 / (61.0))
        extracts = select(idx, cands.rows, score, k)
        return Answer(question=q, abstained=False, answers=extracts, confidence=float(score.max()))

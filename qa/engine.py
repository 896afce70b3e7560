"""The one object that answers questions. CLI, batch, grading and the TUI all call `Archive`."""
from __future__ import annotations

import re
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
from .paths import corpus_problem
from .retrieve import allowed_rows, candidates
from .constraints import NO, YES, Constraints
from .spans import select
from .types import Answer

Log = Callable[[str], None]


# How much a candidate counts when its document may not (unknown) or does not match what the
# question says about its documents (measured on the development archives: docs/quality.md).
# (v05 hit@1 0.534 -> 0.552 from 0.85/0.6 to 0.7/0.4; v14 unchanged; 0.7/0.25 the same as 0.7/0.4.)
UNKNOWN_WEIGHT = 0.7
MISMATCH_WEIGHT = 0.4


def lexical_tokens(q: str, cons: Constraints, base: Optional[list[str]]) -> list[str]:
    """The question's words for BM25 without the words that named its documents (a date, a kind):
    those would match datelines and headers, not answers."""
    from .text import tokens

    dropped = set(tokens(" ".join(q[s:e] for s, e in cons.spans)))
    kept = base if base is not None else tokens(q)
    return [t for t in kept if t not in dropped]


class BadQuestion(ValueError):
    """The question cannot be asked as typed (empty, too long, control characters)."""


_LINE_BREAKS = re.compile(r"[ \t\r\n]*[\t\r\n][ \t\r\n]*")  # not \s: other controls stay refused


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    # A question typed or pasted over several lines is one question: line breaks and tabs are spaces.
    q = _LINE_BREAKS.sub(" ", question).strip()
    if not q:
        raise BadQuestion("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is too long ({len(q)} characters; the limit is {MAX_QUESTION_CHARS})")
    bad = [c for c in q if unicodedata.category(c) == "Cc"]
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
    state: str  # "fresh", "refreshed", "rebuilt", "stale" (a refresh failed: the previous index answers)
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
        self._reranker = None
        # Standing explicit constraints for every question asked here (batch options, the TUI filter);
        # constraints given to one `ask` replace them field by field.
        self.filter: Optional[Constraints] = None

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
            unusable = corpus_problem(self.corpus)  # missing, a file, a broken link
            if unusable:
                raise index_mod.docs_mod.CorpusError(unusable)
            if loaded is not None:
                st = index_mod.staleness(self.corpus, loaded)
                if not st.stale:
                    self._set(loaded, "fresh")
                    return self.state
                self.log(f"index is stale ({st.describe()}); refreshing")
            try:
                report = index_mod.build(
                    self.corpus, self.index_dir, self.encoder, log=self.log, progress_factory=progress_factory
                )
            except index_mod.IndexWriteFailed as exc:
                if loaded is None:
                    raise
                # The failed build removed what it wrote; the generation loaded above is intact.
                self.log(f"warning: could not refresh the index: {exc.reason} ({exc.root}); answering from the previous index")
                self._set(loaded, "stale", detail=str(exc))
                return self.state
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
        """Retrieval vectors, one per question, from one batched model call.

        A question asking for someone's words is embedded together with its topic alone ("What did
        Rusk say about July?" + "July"): the speaker is handled by filtering, and the name would
        otherwise dominate the similarity.
        """
        if not questions:
            return self.encoder.encode([])
        texts = list(questions)
        topic_at: dict[int, int] = {}
        if self.index is not None:
            for i, q in enumerate(questions):
                frame = self.frame(q)
                if frame.wants_speech and frame.topic_text:
                    topic_at[i] = len(texts)
                    texts.append(frame.topic_text)
        vecs = self.encoder.encode(texts)
        out = vecs[: len(questions)].copy()
        for i, j in topic_at.items():
            v = vecs[i] + vecs[j]
            out[i] = v / np.linalg.norm(v)
        return out

    def ask(
        self, question: str, k: int = 5, docs: Optional[Iterable[str]] = None, constraints: Optional[Constraints] = None
    ) -> Answer:
        """`constraints` (`qa.constraints.Constraints.explicit_options(...)`) restrict the documents
        by date, author, recipient and kind, on top of what the question itself says."""
        q = validate_question(question)
        qvec = self.embed_questions([q])[0]
        return self._answer(q, qvec, k, self.doc_ids(docs), constraints=constraints)

    def ask_many(
        self, questions: list[str], k: int = 5, constraints: Optional[Constraints | list[Optional[Constraints]]] = None
    ) -> list[Answer | BadQuestion]:
        """Answer many questions with one batched embedding call; bad ones come back as exceptions.
        `constraints` apply to every question, or (a list) one per question."""
        valid: list[tuple[int, str]] = []
        out: list[Answer | BadQuestion] = [None] * len(questions)  # type: ignore[list-item]
        for i, q in enumerate(questions):
            try:
                valid.append((i, validate_question(q)))
            except BadQuestion as exc:
                out[i] = exc
        vecs = self.embed_questions([q for _, q in valid])
        for (i, q), v in zip(valid, vecs):
            cons = constraints[i] if isinstance(constraints, list) else constraints
            out[i] = self._answer(q, v, k, None, constraints=cons)
        return out

    @property
    def reranker(self):
        if self._reranker is None:
            from .rerank import Reranker

            self._reranker = Reranker.load()
        return self._reranker

    @property
    def known_speakers(self) -> dict[str, str]:
        """Lowercase name forms (surnames, aliases) -> canonical speaker, for reading questions."""
        idx = self._require_index()
        if getattr(idx, "_known_speakers", None) is None:
            from .speakers import load_aliases

            from collections import Counter

            from .speakers import _NAME_STOP, canonical_speaker

            counts = Counter(s for s in idx.sent_speaker if s)
            names = set(counts)
            names |= {d.meta.author for d in idx.docs if d.meta.author and " " not in d.meta.author}
            forms = {n.lower(): n for n in names}
            # A person is asked for by full name, by first name and surname, or by surname; a
            # surname two people share names them both (see people_of), the most quoted first.
            by_surname: dict[str, list[str]] = {}
            for n in sorted(names, key=lambda n: (-counts[n], n)):
                surname = canonical_speaker(n, {})
                if surname != n and surname not in _NAME_STOP:
                    by_surname.setdefault(surname, []).append(n)
                    ws = n.split()
                    forms.setdefault(f"{ws[0]} {ws[-1]}".lower(), n)
            groups: dict[str, list[str]] = {}
            for surname, people in by_surname.items():
                if surname in names:
                    people = [surname] + people
                if len(people) == 1:
                    forms.setdefault(surname.lower(), people[0])
                else:
                    forms[surname.lower()] = surname
                    groups[surname] = people
            aliases = dict(load_aliases(self.corpus)) if self.corpus.is_dir() else {}
            for d in idx.docs:
                aliases.update({k.lower(): v for k, v in (d.meta.aliases or {}).items()})
            forms.update({a.lower(): forms[c.lower()] for a, c in aliases.items() if c.lower() in forms})
            idx._speaker_groups = groups
            idx._known_speakers = forms
        return idx._known_speakers

    def people_of(self, names: list[str]) -> list[str]:
        """The people the names a question uses stand for: a surname two people share is both
        (the most quoted first); any other name is itself."""
        self.known_speakers
        groups = self._require_index()._speaker_groups
        out: list[str] = []
        for n in names:
            for p in groups.get(n, [n]):
                if p not in out:
                    out.append(p)
        return out

    def frame(self, q: str):
        """The parsed question, memoised per index: embedding and retrieval both need it."""
        from .question import parse_question

        idx = self._require_index()
        frames = idx.__dict__.setdefault("_frames", {})
        frame = frames.get(q)
        if frame is None:
            if len(frames) >= 4096:  # a long batch must not grow the memo without bound
                frames.clear()
            frame = frames[q] = parse_question(q, self.known_speakers)
            frame.speakers = self.people_of(frame.speakers)
            frame.mentioned = self.people_of(frame.mentioned)
        return frame

    def gather(
        self,
        q: str,
        qvec: np.ndarray,
        doc_ids: Optional[set[int]] = None,
        frame=None,
        scope: Optional[np.ndarray] = None,
        constraints: Optional[Constraints] = None,
    ):
        """(frame, candidates) for a question.

        A question asking for someone's words ("What did Rusk say about …") is answered from that
        person's sentences only, when the archive attributes any to them.
        """
        idx = self._require_index()
        frame = frame or self.frame(q)
        rows_filter = scope  # a conversation may narrow the search to rows near earlier citations
        if frame.wants_speech:
            base = rows_filter if rows_filter is not None else allowed_rows(idx, doc_ids)
            base = np.arange(idx.n_sentences) if base is None else base
            spoken = base[np.isin(self._speaker_array(idx)[base], frame.speakers)]
            if len(spoken):
                rows_filter = spoken
        qtokens = frame.topic_tokens if frame.wants_speech and frame.topic_tokens else None
        if constraints is not None and constraints.spans:
            qtokens = lexical_tokens(q, constraints, qtokens)
        from .anatomy import asks_for_structure

        return frame, candidates(
            idx, qvec, q, doc_ids, query_tokens=qtokens, rows_filter=rows_filter, include_structure=asks_for_structure(q)
        )

    @staticmethod
    def _speaker_array(idx) -> np.ndarray:
        if getattr(idx, "_speaker_array", None) is None:
            idx._speaker_array = np.array(idx.sent_speaker, dtype=object)
        return idx._speaker_array

    def rank(
        self, q: str, qvec: np.ndarray, doc_ids: Optional[set[int]] = None, frame=None, scope=None, constraints=None
    ):
        """(frame, candidates, probabilities, answerable): candidates scored by the reranker, and the
        calibrated probability that the archive answers the question at all.

        `constraints` are the merged ones (`constraints_for`): certain ones have already narrowed
        `doc_ids` (`constrain`); the others re-weight candidates by whether their document matches."""
        from .rerank import featurize

        weights = None
        unfiltered = doc_ids
        if constraints:
            doc_ids, weights = self.constrain(constraints, doc_ids)
        frame, cands = self.gather(q, qvec, doc_ids, frame, scope, constraints)
        if len(cands) == 0:
            return frame, cands, np.zeros(0), 0.0
        idx = self._require_index()
        X = featurize(idx, cands, frame, qvec)
        probs = self.reranker.probability(X)
        answerable = self.reranker.answerable(X, probs, cands, frame, idx)
        if doc_ids != unfiltered and not constraints.explicit:
            # A filter the question implied narrows where the answer is looked for, not whether the
            # archive has one: abstention is calibrated on candidates from the whole archive.
            _, wide = self.gather(q, qvec, unfiltered, frame, scope, constraints)
            if len(wide):
                Xw = featurize(idx, wide, frame, qvec)
                answerable = max(answerable, self.reranker.answerable(Xw, self.reranker.probability(Xw), wide, frame, idx))
        if weights is not None:
            probs = probs * weights[idx.sent_doc[cands.rows]]
        return frame, cands, probs, answerable

    # -- constraints on documents ------------------------------------------------------------------
    def archive_people(self) -> set[str]:
        """Lowercase name forms of everyone the archive knows: speakers, authors, recipients."""
        idx = self._require_index()
        if getattr(idx, "_archive_people", None) is None:
            forms = set(self.known_speakers)
            for d in idx.docs:
                m = d.meta
                names = [m.author, m.recipient] + [p.get("name") for p in (m.authors or []) + (m.recipients or [])]
                for n in names:
                    if n:
                        forms.add(n.lower())
                        forms.add(n.lower().split()[-1])
            idx._archive_people = forms
        return idx._archive_people

    def constraints_for(self, q: str, explicit: Optional[Constraints] = None) -> Constraints:
        """What the question says about its documents, with the explicit constraints on top."""
        return Constraints.from_question(q, self.archive_people()).merge(explicit)

    def constrain(self, cons: Constraints, doc_ids: Optional[set[int]]) -> tuple[Optional[set[int]], Optional[np.ndarray]]:
        """(documents allowed, weight per document). Explicit constraints filter: only documents
        known to match remain. An exact day in the question filters too when some document bears
        it; everything else the question says re-weights (`UNKNOWN_WEIGHT`, `MISMATCH_WEIGHT`)."""
        idx = self._require_index()
        hard = set(cons.explicit)
        if "date" not in hard and cons.exact_day():
            if any(cons.matches(d.meta, {"date"}) == YES for d in idx.docs if doc_ids is None or d.id in doc_ids):
                hard.add("date")
        if hard:
            keep = {d.id for d in idx.docs if cons.matches(d.meta, hard) == YES}
            doc_ids = keep if doc_ids is None else doc_ids & keep
        soft = {"date", "authors", "recipients", "kinds"} - hard
        verdicts = [cons.matches(d.meta, soft) for d in idx.docs]
        if all(v == YES for v in verdicts):
            return doc_ids, None
        w = np.array([1.0 if v == YES else MISMATCH_WEIGHT if v == NO else UNKNOWN_WEIGHT for v in verdicts])
        return doc_ids, w

    def _answer(
        self,
        q: str,
        qvec: np.ndarray,
        k: int,
        doc_ids: Optional[set[int]],
        frame=None,
        scope: Optional[np.ndarray] = None,
        skip: int = 0,
        constraints: Optional[Constraints] = None,
    ) -> Answer:
        """`scope` limits the candidate sentences; `skip` drops that many best extracts ("more");
        `constraints` are explicit ones, merged with what the question says."""
        idx = self._require_index()
        cons = self.constraints_for(q, self.filter.merge(constraints) if self.filter else constraints)
        frame, cands, probs, answerable = self.rank(q, qvec, doc_ids, frame, scope, cons)
        shown = cons.to_json() if cons else None
        if len(cands) == 0:
            return Answer(question=q, abstained=True, answers=[], confidence=0.0, constraints=shown)
        prob_of = dict(zip(cands.rows.tolist(), probs.tolist()))

        def carries_answer(first: int, last: int, neighbour: int) -> bool:
            # A neighbour joins the quote only when the (calibrated) reranker finds it more likely
            # than not to answer the question itself: then it carries the answer, not just context.
            return prob_of.get(neighbour, 0.0) >= 0.5

        extracts = select(idx, cands.rows, probs, k + skip, wants=carries_answer)[skip:]
        if answerable < self.reranker.abstain_threshold:
            return Answer(question=q, abstained=True, answers=[], closest=extracts, confidence=answerable, constraints=shown)
        return Answer(question=q, abstained=False, answers=extracts, confidence=answerable, constraints=shown)

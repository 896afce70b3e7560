"""Conversations: follow-up questions understood from the earlier turns, with rules instead of an LLM.

A `Conversation` keeps, per turn, the question as asked and as interpreted, its frame (speaker,
topic), the document filter and the sentences it cited. Each new question is first *interpreted*
against that state by a small set of tested rules; what was interpreted is shown to the user
(`Answer.interpreted`) so the rewriting is never hidden:

* "more" / "show more"                 -> the same question, the next extracts
* "in the Polyansky report?"           -> the previous question, restricted to that document
* "And South Korea?", "What about England?", "And Rusk?"
                                       -> the previous question's frame with the new topic or person
* "And what did Gromyko answer?", "How did Gromyko respond?", "And Gromyko's reply?"
                                       -> Gromyko's words about the previous topic, first looked for
                                          after the passages cited before (the reply follows them)
* "What did he say about hunger?"      -> he = the person in focus (the last speaker asked about)
* "How did the Cubans take it?"        -> it = the previous topic, in the documents cited before
* "What did Khrushchev want to do next?" -> looked for after the previous citations first

A question that needs none of this is asked exactly as typed. Every narrowing (documents cited
before, text after the previous citations) falls back to the whole archive when the narrowed
search finds nothing that answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Optional

import numpy as np

from .question import QuestionFrame
from .types import Answer

if TYPE_CHECKING:
    from .engine import Archive

CONNECTOR = re.compile(r"^\s*(?:and|so|but|ok(?:ay)?|then|now|also)\b[\s,]*", re.I)
MORE = re.compile(
    r"^\s*(?:(?:show|give|tell)\s+(?:me\s+)?)?(?:some\s+|any\s+)?more(?:\s+(?:please|results|passages|quotes|extracts|of that))?"
    r"\s*(?:please)?\s*[?.!]*\s*$|^\s*(?:next|continue|go on|anything else)\s*[?.!]*\s*$",
    re.I,
)
WHAT_ABOUT = re.compile(r"^\s*(?:what|how)\s+about\s+(?P<rest>.+?)\s*[?.!]*\s*$", re.I)
WH_START = re.compile(r"^\s*(?:what|who|whom|whose|when|where|why|how|which|did|does|do|is|are|was|were|can|could|would|will|has|have|had)\b", re.I)
PERSON_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers)\b", re.I)
BARE_OBJECT = re.compile(r"\b(it|that|this)(?=\s*[?.!]*\s*$)", re.I)
CONTINUATION = re.compile(r"\b(next|then|after that|afterwards|later on|in response|in reply|in return)\b", re.I)
DOC_SCOPE = re.compile(
    r"\s*,?\s*\b(?:in|from|according to)\s+(?P<what>(?:the\s+|this\s+|that\s+)?(?:[\w’'\-]+\s+){0,4}?"
    r"(?:report|telegram|letter|memo|memorandum|cable|minutes|document|notes|transcript|speech|conversation record))\b",
    re.I,
)
REPLY_WORDS = re.compile(r"\b(answer|answered|answers|reply|replied|replies|respond|responded|response|react|reacted|reaction|rebuttal)\b", re.I)
_TOPIC_PREPOSITION = re.compile(r"\b(about|regarding|concerning|on|in|of|to|for|with)\s+(?!.*\b(?:about|regarding|concerning|on|in|of|to|for|with)\s)(?P<topic>[^?]+)", re.I)


@dataclass
class Interpretation:
    text: str  # the question the engine is asked
    followup: bool = False  # the question leans on earlier turns
    docs: Optional[set[int]] = None  # documents the question itself names
    after_previous: bool = False  # look after the previous citations first (replies, "next")
    after_best_only: bool = False  # "next": after the best previous citation, not the earliest
    same_documents: bool = False  # look in the previously cited documents first
    skip: int = 0  # "more": extracts already shown
    rule: str = "fresh"


@dataclass
class Turn:
    asked: str
    interpreted: str
    answer: Answer
    frame: QuestionFrame
    docs: Optional[list[str]] = None
    doc_ids: Optional[set[int]] = None
    cited_rows: list[int] = field(default_factory=list)
    skip: int = 0
    k: int = 5
    rule: str = "fresh"


@dataclass
class Conversation:
    archive: "Archive"
    turns: list[Turn] = field(default_factory=list)

    # -- state ------------------------------------------------------------------------------------
    def focus_person(self) -> Optional[str]:
        """The person "he"/"she" most likely means: the last speaker asked about or quoted."""
        for turn in reversed(self.turns):
            if turn.frame.speakers:
                return turn.frame.speakers[0]
            if turn.frame.mentioned:
                return turn.frame.mentioned[0]
            speakers = [a.speaker for a in turn.answer.answers if a.speaker]
            if speakers:
                return speakers[0]
        return None

    def reset(self) -> None:
        self.turns.clear()

    # -- interpretation -----------------------------------------------------------------------------
    def interpret(self, question: str) -> Interpretation:
        q = question.strip()
        docs, q_wo_docs = self._document_scope(q)
        if not self.turns:
            return Interpretation(q_wo_docs if docs else q, docs=docs, rule="document" if docs else "fresh")
        prev = self.turns[-1]
        if MORE.match(q):
            return Interpretation(prev.interpreted, True, prev.doc_ids, skip=prev.skip + prev.k, rule="more")
        body = CONNECTOR.sub("", q_wo_docs if docs else q, count=1).strip() or q
        if docs and not self.archive.frame(body).topic_tokens and not WH_START.match(body):
            return Interpretation(prev.interpreted, True, docs, rule="document")

        m = WHAT_ABOUT.match(body)
        rest = m.group("rest") if m else None
        if rest is None and not WH_START.match(body) and len(body.split()) <= 5 and body != q.strip():
            rest = body.rstrip("?.! ")  # "And South Korea?"
        if rest is None and not WH_START.match(body) and len(body.split()) <= 4 and body.endswith("?"):
            rest = body.rstrip("?.! ")  # "South Korea?"
        if rest:
            return self._ellipsis(rest, prev, docs)

        frame = self.archive.frame(body)
        if REPLY_WORDS.search(body) and not _has_topic(body, frame) and prev.frame.topic_phrase:
            who = frame.speakers[0] if frame.speakers else (frame.mentioned[0] if frame.mentioned else self.focus_person())
            if who:
                text = f"What did {who} answer about {prev.frame.topic_phrase}?"
                return Interpretation(text, True, docs, after_previous=True, same_documents=True, rule="reply")

        text, changed = body, False
        person = self.focus_person()
        if person and not frame.mentioned and PERSON_PRONOUN.search(body):
            text = _replace_pronoun(text, person)
            changed = True
        if BARE_OBJECT.search(text) and prev.frame.topic_phrase:
            text = BARE_OBJECT.sub(lambda m: f"{m.group(1)} [{prev.frame.topic_phrase}]", text, count=1)
            changed = True
        after = bool(CONTINUATION.search(body))
        if changed or after:
            return Interpretation(
                text, True, docs, after_previous=after, after_best_only=after, same_documents=True,
                rule="pronoun" if changed else "continuation",
            )
        return Interpretation(body, docs=docs, rule="document" if docs else "fresh")

    def _ellipsis(self, rest: str, prev: Turn, docs: Optional[set[int]]) -> Interpretation:
        known = self.archive.known_speakers
        rest = re.sub(r"(?i)^the\s+", "", rest.strip())
        person = known.get(rest.lower()) or known.get(re.sub(r"['’]s$", "", rest.lower()))
        pf = prev.frame
        if person and REPLY_WORDS.search(rest) is None and pf.topic_phrase:
            # "And Rusk?" -> the same question about the new person
            verb = "answer" if pf.reply else "say"
            text = f"What did {person} {verb} about {pf.topic_phrase}?"
            return Interpretation(text, True, docs, same_documents=True, rule="new person")
        reply = re.match(rf"^(?P<who>.+?)['’]s\s+(?:{REPLY_WORDS.pattern})", rest, re.I)
        if reply and pf.topic_phrase:
            who = known.get(reply.group("who").lower(), reply.group("who"))
            text = f"What did {who} answer about {pf.topic_phrase}?"
            return Interpretation(text, True, docs, after_previous=True, same_documents=True, rule="reply")
        if pf.wants_speech:
            verb = "answer" if pf.reply else "say"
            text = f"What did {pf.speakers[0]} {verb} about {rest}?"
        else:
            m = _TOPIC_PREPOSITION.search(prev.interpreted)
            if m:
                text = prev.interpreted[: m.start("topic")] + rest + "?"
            else:
                text = f"{prev.interpreted.rstrip('?. ')} — {rest}?"
        return Interpretation(text, True, docs, same_documents=True, rule="new topic")

    def _document_scope(self, q: str) -> tuple[Optional[set[int]], str]:
        """Documents a phrase like "in the Polyansky report" names, and the question without it."""
        m = DOC_SCOPE.search(q)
        if not m:
            return None, q
        words = {w.lower() for w in re.findall(r"[\w’'\-]+", m.group("what"))}
        words -= {"the", "this", "that", "report", "telegram", "letter", "memo", "memorandum", "cable", "minutes",
                  "document", "notes", "transcript", "speech", "conversation", "record"}
        if not words:
            return None, q
        idx = self.archive.index
        hits = set()
        for d in idx.docs:
            names = " ".join(filter(None, [d.meta.title, d.meta.author, d.meta.recipient, d.doc])).lower()
            if all(re.search(rf"\b{re.escape(w)}", names) for w in words):
                hits.add(d.id)
        if not hits:
            return None, q
        rest = (q[: m.start()] + q[m.end():]).strip()
        return hits, rest if rest.strip("?.! ") else ""

    # -- asking -------------------------------------------------------------------------------------
    def ask(self, question: str, k: int = 5, docs: Optional[Iterable[str]] = None) -> Answer:
        from .engine import validate_question

        asked = validate_question(question)
        docs = list(docs) if docs is not None else None
        interp = self.interpret(asked)
        archive = self.archive
        idx = archive.index
        doc_ids = archive.doc_ids(docs)
        if interp.docs is not None:
            doc_ids = interp.docs if doc_ids is None else (doc_ids & interp.docs) or interp.docs
        frame = archive.frame(interp.text)
        qvec = archive.embed_questions([interp.text])[0]

        answer = None
        prev = self.turns[-1] if self.turns else None
        # Narrowest first: after the previous citations, then their documents, then everything.
        for n, scope in enumerate(self._scopes(interp, prev, doc_ids)):
            answer = archive._answer(interp.text, qvec, k, doc_ids, frame, scope=scope, skip=interp.skip)
            if not answer.abstained and answer.answers:
                break
            if n == 0 and scope is not None and interp.after_previous and frame.wants_speech and answer.closest:
                # "What did Gromyko answer?" / "What did he want next?": that person's words right
                # after the passages just cited are the answer by construction, however little
                # vocabulary they share with the question.
                answer.answers, answer.closest, answer.abstained = answer.closest, [], False
                break
        answer.question = asked
        answer.interpreted = interp.text
        self.turns.append(
            Turn(asked, interp.text, answer, frame, docs, doc_ids, _cited_rows(idx, answer), interp.skip, k, interp.rule)
        )
        return answer

    def _scopes(self, interp: Interpretation, prev: Optional[Turn], doc_ids: Optional[set[int]]):
        idx = self.archive.index
        if prev is not None and prev.cited_rows and interp.followup:
            cited = np.array(prev.cited_rows)
            prev_docs = np.unique(idx.sent_doc[cited])
            if doc_ids is not None:
                prev_docs = np.array([d for d in prev_docs if d in doc_ids])
            if len(prev_docs):
                if interp.after_previous:
                    parts = []
                    for d in prev_docs:
                        rec = idx.docs[int(d)]
                        in_doc = cited[idx.sent_doc[cited] == d]
                        # A reply may answer any cited passage; "next" continues from the best one.
                        first = int(in_doc[0] if interp.after_best_only else in_doc.min())
                        parts.append(np.arange(first, rec.sent_hi))
                    yield np.concatenate(parts)
                if interp.same_documents or interp.after_previous:
                    yield np.concatenate([np.arange(idx.docs[int(d)].sent_lo, idx.docs[int(d)].sent_hi) for d in prev_docs])
        yield None


def _has_topic(body: str, frame: QuestionFrame) -> bool:
    """Whether a reply question names its own topic ("What did Gromyko answer about Cuba?")."""
    words = [t for t in frame.topic_tokens if not REPLY_WORDS.fullmatch(t) and not t.startswith(("answ", "repl", "respon", "react"))]
    return bool(words)


def _replace_pronoun(text: str, person: str) -> str:
    def sub(m: re.Match) -> str:
        w = m.group(1).lower()
        if w in ("his", "hers"):
            return f"{person}'s"
        if w == "her":
            # "her" is possessive before a noun ("her reply"), an object otherwise ("asked her")
            nxt = text[m.end():].lstrip()
            return f"{person}'s" if nxt[:1].isalpha() and not nxt.lower().startswith(("about", "to", "and", "that")) else person
        return person

    return PERSON_PRONOUN.sub(sub, text, count=1)


def _cited_rows(idx, answer: Answer) -> list[int]:
    rows = []
    for ex in answer.answers[:3]:
        d = idx.docs[idx.doc_index[ex.doc]]
        lo, hi = d.sent_lo, d.sent_hi
        r = lo + int(np.searchsorted(idx.sent_start[lo:hi], ex.start))
        if lo <= r < hi:
            rows.append(r)
    return rows

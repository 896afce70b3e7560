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
REPLY_WORDS = re.compile(
    r"\b(answer|answered|answers|reply|replied|replies|respond|responded|response|react|reacted|reaction|rebuttal|"
    r"retort|retorted|come back with|came back with)\b",
    re.I,
)
# "When was that?", "When did he say that?", "On which day and at what time did that meeting begin?"
WHEN = re.compile(r"^\s*(?:when\b|(?:on|at)\s+(?:which|what)\s+(?:day|date|time)\b|what\s+(?:day|date|time)\b|which\s+day\b)", re.I)
ANAPHOR = re.compile(r"\b(?:that|this|it|then|he|she|they|him|her|them)\b", re.I)
# words a "when" follow-up may carry besides its anaphors: it asks for the date of the text in focus
WHEN_WORDS = {
    "when", "on", "at", "which", "what", "day", "date", "time", "was", "were", "is", "did", "do", "does", "that",
    "this", "it", "then", "he", "she", "they", "and", "so", "the", "say", "said", "write", "wrote", "written", "send",
    "sent", "tell", "told", "happen", "happened", "begin", "began", "start", "started", "take", "took", "place",
    "meeting", "conversation", "talk", "talks", "letter", "telegram", "message", "memo", "memorandum", "note",
    "cable", "call", "reply", "exactly", "held", "hold", "dated", "this", "sign", "signed", "deliver", "delivered",
}
# "that meeting", "the same point", "instead", "why?": the question leans on the text in focus
DEMONSTRATIVE = re.compile(
    r"\b(?:that|this|the\s+same|those|these)\s+(?:\w+\s+)?(?:point|meeting|conversation|location|place|site|call|idea|"
    r"proposal|offer|letter|message|telegram|cable|note|issue|question|subject|matter|talks?|discussion|plan|scheme|"
    r"statement|remarks?|suggestion|visit|dinner|lunch|luncheon|interview|exchange|argument|request|demand|threat|"
    r"warning|position|view|stance)\b|\binstead\b|^\s*why\b|\bwhat\s+else\b|\bdid\s+(?:he|she|they)\s+mention\b",
    re.I,
)
# "two days later", "that evening", "later that afternoon", "afterwards": another text, dated after the focus
LATER = re.compile(
    r"\b(?:(?P<n>\d+|one|two|three|four|five|six|seven|a)\s+(?:days?|weeks?)\s+later|the\s+(?:next|following)\s+"
    r"(?:day|morning|evening)|(?:later\s+)?that\s+(?:same\s+)?(?:evening|afternoon|night|day)|"
    r"later\s+that\s+\w+|afterwards?|subsequently)\b",
    re.I,
)
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
# a role named with "the", which may point back to the person in focus's counterpart
_SUBJECT_BEFORE = re.compile(r"\bthe\s+(?:former\s+|vice\s+|soviet\s+|american\s+)?(?:president|secretary|chairman|"
                             r"ambassador|minister|premier|leader|chancellor|king|queen|general)\b", re.I)
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
    date_of_focus: bool = False  # "When was that?": the dateline of the document in focus
    reply_docs: list[int] = field(default_factory=list)  # documents replying to the one in focus, nearest first
    later: Optional[tuple[int, int]] = None  # "two days later": other documents dated focus+lo .. focus+hi days
    anchored: bool = False  # pronouns or "that meeting": the document in focus answers unless it plainly cannot


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
    focus: Optional[int] = None  # the document the conversation is about after this turn


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

    def focus_doc(self) -> Optional[int]:
        """The document in focus: the one the last answered turn quoted first."""
        for turn in reversed(self.turns):
            if turn.focus is not None:
                return turn.focus
        return None

    def replies_to(self, focus: int, who: Optional[str] = None) -> list[int]:
        """Documents answering the one in focus, nearest in date first: written by its recipient (or by
        `who`, when the question names the replier) to its author, dated on or after it."""
        docs = self.archive.index.docs
        f = docs[focus].meta
        if (f.kind or "").startswith("memorandum of conversation"):
            return []  # a conversation's replies are in the conversation itself
        authors = _people(f.authors, f.author)
        recipients = _people(f.recipients, f.recipient)
        repliers = [who] if who else recipients
        if not authors or not repliers:
            return []
        fdate = _day(f.date)
        found = []
        for d in docs:
            m = d.meta
            if d.id == focus or not _matches(_people(m.authors, m.author), repliers):
                continue
            to = _people(m.recipients, m.recipient)
            if to and not _matches(to, authors):
                continue
            day = _day(m.date)
            if fdate is not None and (day is None or day < fdate):
                continue
            found.append(((day - fdate).days if day and fdate else 10**6, d.id))
        return [d for _, d in sorted(found)]

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

        focus = self.focus_doc()
        if focus is not None and WHEN.match(body) and ANAPHOR.search(body) and self._only_when_words(body):
            return Interpretation(body, True, docs, date_of_focus=True, rule="date")

        body = self._resolve_roles(body, focus)
        frame = self.archive.frame(body)
        topic = _short(prev.frame.topic_phrase)
        if REPLY_WORDS.search(body) and not _has_topic(DEMONSTRATIVE.sub(" ", body), self.archive.frame(DEMONSTRATIVE.sub(" ", body))):
            named = frame.speakers[0] if frame.speakers else (frame.mentioned[0] if frame.mentioned else None)
            replies = self.replies_to(focus, named) if focus is not None else []
            if replies:
                meta = self.archive.index.docs[replies[0]].meta
                who = named or meta.author or (meta.authors[0]["name"] if meta.authors else "")
                text = f"What did {who} answer about {topic}?" if topic else f"What did {who} answer?"
                return Interpretation(text, True, docs, reply_docs=replies[:2], rule="reply")
            who = named or self.focus_person()
            if who:
                text = f"What did {who} answer about {topic}?" if topic else f"What did {who} answer?"
                return Interpretation(text, True, docs, after_previous=True, same_documents=True, rule="reply")

        text, changed = body, False
        person = self.focus_person()
        pronoun = PERSON_PRONOUN.search(body)
        # "What did the President fear … if he accepted it?": "he" is the role the question names first
        named_first = bool(pronoun and _SUBJECT_BEFORE.search(body[: pronoun.start()]))
        if person and not frame.mentioned and pronoun and not named_first:
            text = _replace_pronoun(text, person)
            changed = True
        if BARE_OBJECT.search(text) and topic:
            text = BARE_OBJECT.sub(lambda m: f"{m.group(1)} [{topic}]", text, count=1)
            changed = True
        after = bool(CONTINUATION.search(body))
        later = _later_window(body) if focus is not None else None
        anchored = bool(pronoun or DEMONSTRATIVE.search(body) or BARE_OBJECT.search(body) or later or changed)
        anchored = anchored and focus is not None
        if changed or after or anchored:
            rule = "pronoun" if changed else "continuation" if after else "later" if later else "anaphora"
            return Interpretation(
                text, True, docs, after_previous=after, after_best_only=after, same_documents=True,
                rule=rule, later=later, anchored=anchored,
            )
        return Interpretation(body, docs=docs, rule="document" if docs else "fresh")

    def _resolve_roles(self, body: str, focus: Optional[int]) -> str:
        """"the Vice President", "the former President", "the Soviet leader" -> the person of that role
        in the document in focus (its participants, authors, recipients), when exactly one fits."""
        if focus is None:
            return body
        m = self.archive.index.docs[focus].meta
        people = [p for p in [*(m.participants or []), *(m.authors or []), *(m.recipients or [])]
                  if p.get("kind", "person") == "person" and p.get("name")]
        known = self.archive.known_speakers

        def sub(match: re.Match) -> str:
            adj = (match.group("adj") or "").strip().lower()
            role = match.group("role").lower()
            side = _SIDES.get(adj)
            title = f"{adj} {role}".strip() if adj and side is None else role
            fits = [p for p in people if (p.get("role") or "").lower() == title]
            if not fits and role == "leader" and side:
                fits = [p for p in people if (p.get("side") or "").lower() == side][:1]
            elif not fits and side:
                fits = [p for p in people if (p.get("side") or "").lower() == side
                        and (p.get("role") or "").lower().startswith(role)]
            names = {p["name"] for p in fits}
            if len(names) != 1:
                return match.group(0)
            name = names.pop()
            return known.get(name.lower()) or known.get(name.split()[-1].lower()) or name

        return _ROLE.sub(sub, body)

    def _only_when_words(self, body: str) -> bool:
        known = self.archive.known_speakers
        words = re.findall(r"[a-z]+", body.lower())
        return all(w in WHEN_WORDS or w in known for w in words)

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

        answer = self._dateline(interp, k) if interp.date_of_focus else None
        prev = self.turns[-1] if self.turns else None
        # Narrowest first: replies to the document in focus, documents dated after it, text after the
        # previous citations, their documents, then everything.
        for kind, scope in ([] if answer is not None else self._scopes(interp, prev, doc_ids)):
            answer = archive._answer(interp.text, qvec, k, doc_ids, frame, scope=scope, skip=interp.skip)
            if not answer.abstained and answer.answers:
                break
            if not answer.closest:
                continue
            if kind == "reply" or (kind == "after" and frame.wants_speech):
                # "What did Gromyko answer?" / "What did Kennedy reply?" / "What did he want next?": the
                # reply to the letter in focus, or that person's words right after the passages just
                # cited, are the answer by construction, however little vocabulary they share.
                answer.answers, answer.closest, answer.abstained = answer.closest, [], False
                break
            if kind == "focus" and interp.anchored:
                # "What did he say about hunger?" in the document being discussed: a passage there on
                # that very topic answers it, even when it would be too weak a match asked alone; so
                # do his other words for "What else did he say?" (those not quoted yet).
                shown = {(a.doc, a.start) for a in (prev.answer.answers if prev else [])}
                rest = [a for a in answer.closest if (a.doc, a.start) not in shown]
                if rest and (_shares_topic(rest[0].quote, frame) or (frame.wants_speech and not set(frame.topic_tokens) - {"else", "other", "more"})):
                    answer.answers, answer.closest, answer.abstained = rest, [], False
                    break
        answer.question = asked
        answer.interpreted = interp.text
        # The document in focus: the best quote's, or when abstaining the closest passage's (the user saw it).
        shown = answer.answers or answer.closest
        focus = idx.doc_index[shown[0].doc] if shown else self.focus_doc()
        self.turns.append(
            Turn(asked, interp.text, answer, frame, docs, doc_ids, _cited_rows(idx, answer), interp.skip, k, interp.rule,
                 focus)
        )
        return answer

    def _dateline(self, interp: Interpretation, k: int) -> Optional[Answer]:
        """"When was that?": the dateline of the document in focus, quoted from its text."""
        from .spans import extract

        idx = self.archive.index
        d = idx.docs[self.focus_doc()]
        text = idx.texts[d.id]
        spans = list(d.meta.structure_spans or [])
        wanted = d.meta.date_text
        chosen = next((sp for sp in spans if wanted and wanted in text[sp[0]:sp[1]]), None)
        chosen = chosen or next((sp for sp in spans if _YEAR.search(text[sp[0]:sp[1]])), None)
        if chosen is None and wanted and wanted in text:
            at = text.index(wanted)  # no dateline line: the first place the text gives its date
            chosen = (at, at + len(wanted))
        if chosen is None:
            return None
        rows = [r for r in range(d.sent_lo, d.sent_hi)
                if idx.sent_start[r] < chosen[1] and idx.sent_end[r] > chosen[0]]
        if not rows:
            return None
        ex = extract(idx, rows[0], rows[-1], 1.0)
        return Answer(question=interp.text, abstained=False, answers=[ex], confidence=1.0)

    def _scopes(self, interp: Interpretation, prev: Optional[Turn], doc_ids: Optional[set[int]]):
        idx = self.archive.index
        rows_of = lambda ds: np.concatenate([np.arange(idx.docs[int(d)].sent_lo, idx.docs[int(d)].sent_hi) for d in ds])
        for d in interp.reply_docs:
            yield "reply", rows_of([d])
        focus = self.focus_doc()
        if interp.later and focus is not None:
            later = self._dated_after(focus, *interp.later)
            if later:
                yield "later", rows_of(later)
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
                    yield "after", np.concatenate(parts)
                if interp.same_documents or interp.after_previous:
                    yield "focus", rows_of(prev_docs)
        elif interp.anchored and focus is not None and (doc_ids is None or focus in doc_ids):
            yield "focus", rows_of([focus])  # the previous turn quoted nothing new: its document stays in focus
        yield "all", None

    def _dated_after(self, focus: int, lo: int, hi: int) -> list[int]:
        docs = self.archive.index.docs
        fday = _day(docs[focus].meta.date)
        if fday is None:
            return []
        out = []
        for d in docs:
            day = _day(d.meta.date)
            if d.id != focus and day is not None and lo <= (day - fday).days <= hi:
                out.append(d.id)
        return out


_ROLE = re.compile(
    r"\bthe\s+(?P<adj>(?:former|vice|soviet|american|us|u\.s\.|british|french|german|foreign)\s+)?"
    r"(?P<role>president|secretary|chairman|ambassador|minister|premier|leader|chancellor)\b",
    re.I,
)
_SIDES = {"soviet": "ussr", "american": "us", "us": "us", "u.s.": "us"}
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_NOT_NAME = {"the", "of", "mr", "mrs", "president", "secretary", "chairman", "ambassador", "minister", "premier",
             "prime", "general", "state", "foreign", "embassy", "department", "in", "to", "and", "vice", "soviet", "union"}


def _people(entries: list[dict], fallback: Optional[str]) -> list[str]:
    names = [e.get("name") for e in entries or [] if e.get("name")]
    return names or ([fallback] if fallback else [])


def _name_words(name: str) -> set[str]:
    return {w for w in re.findall(r"\w+", name.lower()) if w not in _NOT_NAME and len(w) > 1}


def _matches(names: list[str], wanted: list[str]) -> bool:
    """Does any of `names` name the same person as any of `wanted` ("Khrushchev" ~ "Nikita Khrushchev")?"""
    for a in names:
        for b in wanted:
            wa, wb = _name_words(a), _name_words(b)
            if (wa and wb and (wa <= wb or wb <= wa)) or a.lower() == b.lower():
                return True
    return False


def _day(iso: Optional[str]):
    from datetime import date

    try:
        return date.fromisoformat(iso) if iso and len(iso) == 10 else None
    except ValueError:
        return None


def _later_window(body: str) -> Optional[tuple[int, int]]:
    """Days after the document in focus that "two days later", "that evening", "afterwards" allow."""
    m = LATER.search(body)
    if not m:
        return None
    t = m.group(0).lower()
    if m.group("n"):
        n = int(m.group("n")) if m.group("n").isdigit() else _NUMBERS[m.group("n").lower()]
        n *= 7 if "week" in t else 1
        return (max(0, n - 1), n + 1)  # a message "given two days later" may be dated the day before
    if "next" in t or "following" in t:
        return (0, 2)
    if "that" in t:
        return (0, 0)
    return (0, 14)


def _short(phrase: str, words: int = 6) -> str:
    """A previous topic short enough to carry over ("July"), not a whole question's remainder."""
    return phrase if phrase and len(phrase.split()) <= words else ""


def _shares_topic(quote: str, frame: QuestionFrame) -> bool:
    from .text import tokens

    have = {t[:5] for t in tokens(quote)}
    return any(t[:5] in have for t in frame.topic_tokens if len(t) > 2)


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

"""Reading a question: who it asks about, what kind of answer it wants, and its topic words."""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Optional

from .text import QUESTION_FRAME, STOPWORDS, WORD_RE, fold, stem, words

SPEECH_VERBS = (
    r"say|said|says|answer|answered|reply|replied|respond|responded|claim|claimed|declare|declared|"
    r"tell|told|mention|mentioned|state|stated|announce|announced|argue|argued|think|thought|assert|"
    r"asserted|insist|insisted|stress|stressed|note|noted|threaten|threatened|propose|proposed|suggest|"
    r"suggested|complain|complained|ask|asked|admit|admitted|deny|denied|object|objected|promise|promised|"
    r"report|reported|warn|warned|explain|explained|write|wrote|believe|believed|recommend|recommended|"
    # what someone wanted or planned is known from what they said of it
    r"want|wanted|intend|intended|plan|planned|hope|hoped|demand|demanded|offer|offered|expect|expected"
)
_NAME = r"(?P<name>(?:the\s+)?[A-Z][\w’'\-]+(?:\s+(?:of\s+)?[A-Z][\w’'\-]+)*)"
# Shapes in which a question asks for someone's own words (so that person's sentences are wanted).
_SPEECH_PATTERNS = [
    re.compile(rf"\b(?i:what|how|why|when|where|which|whom|who)\b[^?]*?\b(?i:did|does|do|has|had|would|will)\s+{_NAME}\s+(?:\w+\s+)?(?i:{SPEECH_VERBS})\b"),
    re.compile(rf"\b(?i:did|does|has|had)\s+{_NAME}\s+(?:ever\s+)?(?i:{SPEECH_VERBS})\b"),
    re.compile(rf"\b(?i:according\s+to)\s+{_NAME}"),
    re.compile(rf"\b{_NAME}['’]s\s+(?:view|views|position|opinion|argument|arguments|claim|claims|answer|reply|response|statement|statements|words|remarks|comments|assessment|proposal|objection)\b"),
    re.compile(rf"\b(?i:how\s+did)\s+{_NAME}\s+(?:respond|react|reply|answer)\b"),
]
REPLY_VERBS = re.compile(r"\b(answer|answered|reply|replied|respond|responded|response|react|reacted|rebut|counter)\b", re.I)

NUMBER_Q = re.compile(r"\bhow\s+(?:many|much|long|far|old|large|big|often)\b|\bwhat\s+(?:number|percentage|amount)\b", re.I)
DATE_Q = re.compile(r"\bwhen\b|\bwhat\s+(?:year|date|day|month|time|century|decade)\b|\bwhich\s+(?:year|month|day)\b", re.I)
PERSON_Q = re.compile(r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|man|woman|leader|president|minister|official)\b", re.I)
PLACE_Q = re.compile(r"\bwhere\b|\b(?:which|what)\s+(?:country|countries|city|place|region|state)\b", re.I)


@dataclass
class QuestionFrame:
    text: str
    speakers: list[str] = field(default_factory=list)  # canonical names the question asks to hear from
    wants_speech: bool = False  # "What did X say …": X's own sentences are the answer
    reply: bool = False  # "What did X answer/reply …"
    answer_type: Optional[str] = None  # number | date | person | place
    mentioned: list[str] = field(default_factory=list)  # known speakers named anywhere in the question
    topic_tokens: list[str] = field(default_factory=list)  # stemmed content words minus names and framing
    topic_text: str = ""  # the same words as typed, for embedding the topic alone
    topic_phrase: str = ""  # the topic as a readable phrase ("the missiles in Cuba"), for follow-ups

    @property
    def topic(self) -> str:
        return " ".join(self.topic_tokens)


@lru_cache(maxsize=16)
def _forms_regex(forms: tuple[str, ...]) -> re.Pattern:
    """One pattern for every known name form (longest first), instead of a search per form."""
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?P<form>{alternatives})(?:['’]s)?(?![\w])")


def answer_type(question: str) -> Optional[str]:
    if NUMBER_Q.search(question):
        return "number"
    if DATE_Q.search(question):
        return "date"
    if PERSON_Q.search(question):
        return "person"
    if PLACE_Q.search(question):
        return "place"
    return None


def parse_question(question: str, known_speakers: dict[str, str]) -> QuestionFrame:
    """`known_speakers` maps lowercase name forms (surnames, aliases) to canonical speaker names."""
    frame = QuestionFrame(text=question, answer_type=answer_type(question))
    lowered = question.lower()
    if known_speakers:
        for m in _forms_regex(tuple(known_speakers)).finditer(lowered):
            canonical = known_speakers[m.group("form")]
            if canonical not in frame.mentioned:
                frame.mentioned.append(canonical)
    for rx in _SPEECH_PATTERNS:
        for m in rx.finditer(question):
            name = m.group("name")
            canonical = _canonical(name, known_speakers)
            if canonical and canonical not in frame.speakers:
                frame.speakers.append(canonical)
    frame.wants_speech = bool(frame.speakers)
    frame.reply = frame.wants_speech and bool(REPLY_VERBS.search(question))
    # The person whose words are asked for is handled by the speaker filter, so their name is not
    # part of the topic; a person merely mentioned ("How did Kennedy speak …") stays in it.
    name_stems = {stem(w) for n in frame.speakers for w in words(n)}
    name_stems |= {
        stem(w)
        for form, canonical in known_speakers.items()
        if canonical in frame.speakers and re.search(rf"\b{re.escape(form)}\b", lowered)
        for w in words(form)
    }
    kept = [w for w in WORD_RE.findall(question) if _is_topic(w, name_stems)]
    frame.topic_tokens = [stem(fold(w)) for w in kept]
    frame.topic_text = " ".join(kept)
    frame.topic_phrase = topic_phrase(question) or frame.topic_text
    return frame


_AFTER_SPEECH = re.compile(rf"\b(?i:{SPEECH_VERBS})\b\s+(?:(?:about|that|of|on|regarding|concerning)\s+)?(?P<rest>[^?]+)")
_LEADING_FRAME = re.compile(
    r"^\s*(?:(?:what|who|whom|whose|when|where|why|how|which)\s+)?(?:(?:is|are|was|were|did|does|do|has|have|had|can|could|would|will)\s+)?",
    re.I,
)


def topic_phrase(question: str) -> str:
    """The part of a question a follow-up refers back to, as typed.

    "What did Rusk say about July?" -> "July"; "How is the food situation in China?" ->
    "the food situation in China".
    """
    m = _AFTER_SPEECH.search(question)
    if m and not re.match(r"(?i)^(?:to|to do)\b", m.group("rest")):
        return m.group("rest").strip(" ,.!")
    return _LEADING_FRAME.sub("", question).strip(" ?,.!")


def _is_topic(word: str, name_stems: set[str]) -> bool:
    w = fold(word)
    return w not in STOPWORDS and w not in QUESTION_FRAME and stem(w) not in name_stems


def _canonical(name: str, known: dict[str, str]) -> Optional[str]:
    low = name.lower()
    for form in (low, "the " + low):
        if form in known:
            return known[form]
    for part in reversed(low.split()):
        if part in known:
            return known[part]
    return None

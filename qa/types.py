"""Typed records that flow between the pipeline stages.

documents -> segment (Sentence spans) -> passages -> index -> retrieve -> rerank -> spans -> Answer
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Optional


@dataclass
class DocumentMeta:
    """What the archive header (or a sidecar NAME.meta.json) tells about a document."""

    title: str
    date: Optional[str] = None  # ISO (YYYY, YYYY-MM or YYYY-MM-DD) where it can be parsed
    date_text: Optional[str] = None  # the date as printed
    author: Optional[str] = None
    recipient: Optional[str] = None
    citation: Optional[str] = None
    archive: Optional[str] = None
    translator: Optional[str] = None
    summary: Optional[str] = None
    language: Optional[str] = None
    body_start: int = 0
    # (start, end) offsets of editorial text (summary, citation) that is searchable as "metadata"
    metadata_spans: list[tuple[int, int]] = field(default_factory=list)
    # (start, end) offsets of web-page boilerplate that is never searchable
    boilerplate_spans: list[tuple[int, int]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    # --- anatomy (qa/anatomy.py): what kind of text this is, and which lines are its furniture ---
    kind: Optional[str] = None  # letter | telegram | memorandum of conversation | memorandum | report | …
    place: Optional[str] = None  # from the dateline ("Moscow")
    time: Optional[str] = None  # from the dateline ("2 p.m.")
    subject: Optional[str] = None  # the SUBJECT header field
    fields: dict[str, str] = field(default_factory=dict)  # every header field, lowercase label -> value
    # people as {"name", "role", "kind": "person"|"institution", "side"?, "text"}
    authors: list[dict] = field(default_factory=list)
    recipients: list[dict] = field(default_factory=list)
    participants: list[dict] = field(default_factory=list)
    salutation: Optional[str] = None
    closing: Optional[str] = None
    signature: Optional[str] = None
    source_note: Optional[str] = None
    # texts relayed inside this one ("Begin text … End text"): {"start", "end", "author", "recipient",
    # "kind", "date"?, "salutation"?, "signature"?}
    embedded: list[dict] = field(default_factory=list)
    # (start, end) of non-content lines in the body (dateline, header fields, salutation, signature,
    # begin/end markers, telegram numbers and references): indexed as section "structure"
    structure_spans: list[tuple[int, int]] = field(default_factory=list)
    body_end: Optional[int] = None  # where the document's own text ends (a Notes section follows)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Document:
    doc: str  # file name relative to the corpus root, with forward slashes
    text: str  # the decoded file, exactly as offsets refer to it
    sha256: str  # of the raw bytes
    meta: DocumentMeta
    # problems found while reading it that did not stop it being indexed (bad sidecar fields)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Sentence:
    start: int
    end: int
    section: str = "body"  # "body" | "metadata" | "structure"
    paragraph: int = 0
    line: int = 1  # 1-based line number of `start`
    speaker: Optional[str] = None


@dataclass
class Passage:
    first: int  # index of the first sentence (document-local)
    last: int  # index of the last sentence, inclusive
    start: int
    end: int
    paragraph: int
    line: int
    section: str = "body"


@dataclass
class Extract:
    """One cited span of 1-3 adjacent sentences: the unit every front end shows."""

    quote: str
    doc: str
    start: int
    end: int
    line: int
    score: float
    speaker: Optional[str]
    section: str
    title: str
    date: Optional[str]
    author: Optional[str] = None
    recipient: Optional[str] = None
    archive: Optional[str] = None

    def to_json(self) -> dict:
        return {
            "quote": self.quote,
            "doc": self.doc,
            "start": self.start,
            "end": self.end,
            "line": self.line,
            "score": round(float(self.score), 4),
            "speaker": self.speaker,
            "section": self.section,
            "title": self.title,
            "date": self.date,
        }

    def reference(self) -> str:
        """A citation line a historian can paste."""
        parts = [self.title]
        if self.date:
            parts.append(self.date)
        if self.archive:
            parts.append(self.archive)
        parts.append(f"{self.doc}, line {self.line}")
        return ", ".join(parts)


@dataclass
class Answer:
    question: str
    abstained: bool
    answers: list[Extract]
    interpreted: Optional[str] = None
    closest: list[Extract] = field(default_factory=list)  # shown when abstaining
    confidence: float = 0.0
    # what the question (and explicit options) said about the documents: qa.constraints.Constraints.to_json
    constraints: Optional[dict] = None

    def to_json(self) -> dict:
        out = {
            "question": self.question,
            "abstained": self.abstained,
            "answers": [a.to_json() for a in self.answers],
        }
        if self.interpreted is not None:
            out["interpreted"] = self.interpreted
        if self.abstained:
            out["closest"] = [a.to_json() for a in self.closest]
        if self.constraints:
            out["constraints"] = self.constraints
        return out

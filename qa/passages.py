"""Cutting a parsed document into the units the index stores: sentences and overlapping passages."""
from __future__ import annotations

import bisect
import re

from .segment import line_of, line_starts, paragraph_starts, split_sentences
from .types import Document, Passage, Sentence

CHUNKER_VERSION = "3"  # 2: anatomy (structure lines, Notes as metadata); 3: a Markdown heading is the title whatever follows it
# MiniLM truncates at 256 word pieces; ~150 words stays under that for English prose.
PASSAGE_MAX_WORDS = 150
PASSAGE_OVERLAP_SENTENCES = 1
_WORD = re.compile(r"\S+")


def _sections(doc: Document) -> list[tuple[int, int, str]]:
    """(start, end, section) ranges to segment, in document order.

    Editorial text (summary, citation, title before the body; a Notes section and footnotes after
    it) is searchable but marked "metadata". The body's furniture found by the anatomy (dateline,
    header fields, salutation, signature, begin/end markers, telegram numbers) is "structure":
    indexed and quotable, but not a candidate for content questions. Page boilerplate and the
    gaps of the header are not indexed at all.
    """
    meta = doc.meta
    n = len(doc.text)
    body_start = max(0, min(int(meta.body_start), n))
    spans = [(s, e, "metadata") for s, e in meta.metadata_spans if 0 <= s < e <= body_start]
    marks = [(int(s), min(int(e), n), "metadata") for s, e in meta.metadata_spans if body_start <= s < e]
    marks += [(int(s), min(int(e), n), "structure") for s, e in (meta.structure_spans or []) if body_start <= s < e]
    marks.sort()
    pos = body_start
    for s, e, section in marks:
        if s < pos:  # overlapping marks: the earlier one wins
            s = pos
        if s >= e:
            continue
        if s > pos:
            spans.append((pos, s, "body"))
        spans.append((s, e, section))
        pos = e
    if pos < n:
        spans.append((pos, n, "body"))
    spans.sort()
    return spans


def split_document(doc: Document) -> tuple[list[Sentence], list[Passage]]:
    text = doc.text
    lines = line_starts(text)
    # Paragraphs are counted over the whole text, so a body paragraph cut by a structure line
    # (a telegram's number before its first sentence) keeps one index on both sides.
    paras = paragraph_starts(text) or [0]
    sentences: list[Sentence] = []
    passages: list[Passage] = []
    for sec_start, sec_end, section in _sections(doc):
        first_in_section = len(sentences)
        for s, e in split_sentences(text, sec_start, sec_end):
            para = max(0, bisect.bisect_right(paras, s) - 1)
            sentences.append(Sentence(start=s, end=e, section=section, paragraph=para, line=line_of(s, lines)))
        passages.extend(_windows(sentences, first_in_section, len(sentences), text, section))
    return sentences, passages


def _windows(sentences: list[Sentence], lo: int, hi: int, text: str, section: str) -> list[Passage]:
    """Greedy windows of whole sentences up to PASSAGE_MAX_WORDS, overlapping by one sentence."""
    out: list[Passage] = []
    i = lo
    while i < hi:
        j, n_words = i, 0
        while j < hi:
            w = len(_WORD.findall(text[sentences[j].start : sentences[j].end]))
            if j > i and n_words + w > PASSAGE_MAX_WORDS:
                break
            n_words += w
            j += 1
        first, last = i, j - 1
        out.append(
            Passage(
                first=first,
                last=last,
                start=sentences[first].start,
                end=sentences[last].end,
                paragraph=sentences[first].paragraph,
                line=sentences[first].line,
                section=section,
            )
        )
        if j >= hi:
            break
        i = max(i + 1, j - PASSAGE_OVERLAP_SENTENCES)
    return out

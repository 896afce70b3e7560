"""Which words of a quote to highlight for a question: shared by every front end."""
from __future__ import annotations

from .text import WORD_RE, content_words, fold, stem


def matched_spans(text: str, question: str) -> list[tuple[int, int]]:
    """(start, end) offsets in `text` of the words that carry the question's topic.

    Offsets index `text` itself (callers pass the string they display), so highlighting never
    changes the characters shown.
    """
    wanted = set(content_words(question))
    if not wanted:
        return []
    return [(m.start(), m.end()) for m in WORD_RE.finditer(text) if stem(fold(m.group(0))) in wanted]

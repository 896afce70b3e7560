"""From ranked sentences to cited extracts: 1-3 adjacent sentences, at most 600 characters."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .index import LoadedIndex
from .types import Extract

MAX_SENTENCES = 3
MAX_CHARS = 600


def same_block(index: LoadedIndex, a: int, b: int) -> bool:
    """Neighbouring sentences that may be quoted together: same document, section and paragraph."""
    return (
        0 <= a < index.n_sentences
        and 0 <= b < index.n_sentences
        and index.sent_doc[a] == index.sent_doc[b]
        and index.sent_section[a] == index.sent_section[b]
        and index.sent_para[a] == index.sent_para[b]
    )


def extract(index: LoadedIndex, first: int, last: int, score: float, seed: int | None = None) -> Extract:
    """The quote of sentences first..last; its speaker is the speaker of `seed`, the sentence that
    earned the extract its place (growth only adds neighbours of the same speaker)."""
    d = index.docs[int(index.sent_doc[first])]
    start, end = int(index.sent_start[first]), int(index.sent_end[last])
    text = index.texts[d.id]
    seed = first if seed is None else seed
    speakers = [index.sent_speaker[i] for i in (seed, *range(first, last + 1)) if index.sent_speaker[i]]
    return Extract(
        quote=text[start:end],
        doc=d.doc,
        start=start,
        end=end,
        line=int(index.sent_line[first]),
        score=float(score),
        speaker=speakers[0] if speakers else None,
        section=index.section(first),
        title=d.meta.title,
        date=d.meta.date,
        author=d.meta.author,
        recipient=d.meta.recipient,
        archive=d.meta.archive,
    )


def grow(index: LoadedIndex, row: int, wants: Callable[[int, int, int], bool]) -> tuple[int, int]:
    """Extend a sentence to neighbours that `wants(first, last, candidate)` accepts, within limits."""
    first = last = row
    while last - first + 1 < MAX_SENTENCES:
        grown = False
        for cand in (last + 1, first - 1):
            if not same_block(index, row, cand) or index.sent_speaker[cand] != index.sent_speaker[row]:
                continue
            lo, hi = min(first, cand), max(last, cand)
            if index.sent_end[hi] - index.sent_start[lo] > MAX_CHARS:
                continue
            if wants(first, last, cand):
                first, last = lo, hi
                grown = True
                break
        if not grown:
            break
    return first, last


def select(
    index: LoadedIndex,
    rows: np.ndarray,
    scores: np.ndarray,
    k: int,
    wants: Optional[Callable[[int, int, int], bool]] = None,
) -> list[Extract]:
    """The k best non-overlapping extracts, in the order of `scores` (descending)."""
    chosen: list[tuple[int, int]] = []
    out: list[Extract] = []
    order = np.argsort(-scores, kind="stable")
    for i in order:
        row = int(rows[i])
        if any(f <= row <= l for f, l in chosen):
            continue
        first, last = grow(index, row, wants) if wants else (row, row)
        # Never quote a sentence twice: trim the growth back if it runs into an earlier extract.
        if any(not (last < f or first > l) for f, l in chosen):
            first = last = row
        chosen.append((first, last))
        out.append(extract(index, first, last, float(scores[i]), seed=row))
        if len(out) >= k:
            break
    return out

"""Sentence and paragraph segmentation with exact character offsets.

Every answer the system gives is a verbatim quote, so segmentation never rewrites text: it only
returns ``(start, end)`` offsets into the document string, and ``text[start:end]`` is the sentence.

The corpus is English translations of Cold War archive documents (telegrams, reports, often
scraped from web pages with markdown or bullet boilerplate, and with page-break artefacts from
OCR) plus Wikipedia paragraphs.  The rules below are tuned for that material:

1. A sentence ends at ``. ! ? …`` (runs allowed), followed by optional closing quotes/brackets
   (which belong to the sentence), whitespace, and a plausible sentence start: an uppercase or
   uncased letter, a digit or an opening quote/bracket.  Terminal marks directly after ``[`` or
   ``(`` are editorial (``[...]``, ``(?)``) and never end a sentence.
2. Abbreviations do not end a sentence (see ``_abbreviation_continues``): titles (``Mr.``,
   ``Cde.``, ``Gen.`` ...) and Latin ``i.e.``/``e.g.``/``vs.`` never; single-letter initials and
   undotted-list initials like ``N.S.`` never; numbering prefixes and months (``No.``, ``Jan.``)
   not before a digit; known dotted acronyms (``U.S.``, ``U.N.``, ``U.S.S.R.``) only before a
   digit or a noun that typically follows them (``Government``, ``Army``...).  Everything else,
   including ``etc.``, ``a.m.``, ``Jr.``, ``Inc.``, ``Co.``, splits before a capitalised word,
   because those usually close a name or a list and a capital after them starts a new sentence.
3. Dashes (``—``, ``--``) are never boundaries.
4. Square/round brackets are never boundaries.
5. A blank line followed by a lowercase letter is a page-break artefact, not a boundary, unless
   the line before it is a bullet item, a markdown header or a bold line (web boilerplate such as
   ``• Citation`` / ``get citation``).  Such a sentence span contains the blank line.
6. Any other blank line is a boundary, even without final punctuation (headings, captions).
7. A line starting with a bullet marker (``•``, ``-``, ``*``, ``+``, ``1.``, ``1)``, ``(a)``...)
   starts a new sentence.  The span starts AFTER the marker and its spaces, so quotes are clean
   text; the marker is the only non-whitespace text that belongs to no sentence.
8. A line ending in markdown bold ``**`` followed by a line that does not start lowercase is a
   boundary, and a markdown ``#`` header line is a sentence of its own.  Other single newlines
   (hard-wrapped text) are not boundaries.
9. Decimals (``3.5``) are never split (no whitespace after the dot); ``1962. The`` is; an
   ellipsis followed by lowercase is not.
10. A lone carriage return (old Mac line endings) is a line break like ``\n`` for every rule
    above; ``\r\n`` is one line break.
11. A sentence longer than ``MAX_SENTENCE_CHARS`` is cut at the last ``;``, else ``,``, else
    whitespace inside the limit (hard cut if there is none); pieces keep exact offsets.

Bump ``SEGMENTER_VERSION`` whenever any boundary changes: the index manifest records it so stale
indexes (whose offsets refer to old sentences) are rebuilt.
"""
from __future__ import annotations

import re
from bisect import bisect_right

__all__ = [
    "SEGMENTER_VERSION",
    "MAX_SENTENCE_CHARS",
    "split_sentences",
    "paragraph_starts",
    "line_starts",
    "line_of",
    "line_break_view",
]

# 2: a lone "\r" is a line break (sentence rules and line numbers)
SEGMENTER_VERSION = "2"

MAX_SENTENCE_CHARS = 1000

_TERMINALS = ".!?…"
_CLOSERS = "\"'”’)]»*"
# Characters that may open a sentence besides letters/digits (quotes, brackets, markdown bold,
# bullets written inline, Spanish marks).
_OPENERS = "\"'“‘([«*•¿¡"

# A run of terminal marks followed by closers, then whitespace.  The look-arounds pin the match
# to whole runs so a long "......" or '"""' cannot cause quadratic backtracking.
_PUNCT = re.compile(
    r"(?<![.!?…])[.!?…]+(?![.!?…])"
    r"[\"'”’)\]»*]*(?![\"'”’)\]»*])"
    r"(?=\s)"
)
_NON_SPACE = re.compile(r"\S")
# One newline followed by one or more whitespace-only lines: a blank-line gap.
_BLANK = re.compile(r"\n(?:[^\S\n]*\n)+")
# Bullet marker at the start of a line, including its indentation and following spaces.
# Unambiguous symbols may touch the text; '-', '*', '+' and numbers need a space so that
# "**bold**", "--" and "3.5" are not mistaken for bullets.
_BULLET = re.compile(
    r"^[^\S\n]*"
    r"(?:[•▪◦‣●►][^\S\n]*"
    r"|(?:[-–*+]|\d{1,3}[.)]|\(\d{1,3}\)|\(?[a-z]\))[^\S\n]+)"
    r"(?=\S)",
    re.MULTILINE,
)
_HEADER = re.compile(r"^[^\S\n]*#{1,6}[^\S\n]+\S[^\n]*", re.MULTILINE)
# A line ending with markdown bold, then a single newline and the next line's first character.
_BOLD_EOL = re.compile(r"\*\*[^\S\n]*(\n)[^\S\n]*(\S)")
_WORD = re.compile(r"\w+")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_TOKEN_SPLIT = re.compile(r"[-–—/]")

# Abbreviations (lowercased, without the final period) that never end a sentence: they precede
# a name or continue a clause.
_NEVER_FINAL = frozenset(
    """
    mr mrs ms messrs mme mlle dr st cde cdes gen lt col maj capt adm sgt cpl sen rep gov prof
    amb hon rev vs v cf viz approx i.e e.g
    """.split()
)
# Abbreviations that do not end a sentence when a number follows ("No. 5", "Oct. 20").
_NUMBER_PREFIXES = frozenset(
    """
    no nos vol vols art fig figs p pp para sec ch
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
# Dotted acronyms that can legitimately end a sentence ("...in the U.S. The next day").
_ACRONYMS = frozenset({"U.S", "U.N", "U.K", "U.S.S.R", "U.S.A", "D.C", "E.U"})
# Capitalised words that usually continue a name after such an acronym ("U.S. Government").
_ACRONYM_NOUNS = frozenset(
    """
    Government Army Navy Air Senate Congress State President Secretary Embassy Ambassador
    Department Forces Administration Delegation Representative Command Marines Military
    Security General Charter Mission Intelligence
    """.split()
)
_MAX_TOKEN = 40  # longer "words" are never abbreviations; bounds the backward scan


_LONE_CR = re.compile(r"\r(?!\n)")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def line_break_view(text: str) -> str:
    """`text` with every lone "\\r" replaced by "\\n": the same length, so every offset into the view
    is the same offset into `text`, and rules written for "\\n" see old Mac line breaks too.
    Quotes are always cut from the original text, never from the view."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def _starts_sentence(c: str) -> bool:
    return (c.isalnum() and not c.islower()) or c in _OPENERS


def strip_span(s: str, a: int, b: int) -> tuple[int, int]:
    # Same whitespace definition as str.strip(), so text[a:b] == text[a:b].strip() holds.
    while a < b and s[a].isspace():
        a += 1
    while b > a and s[b - 1].isspace():
        b -= 1
    return a, b


def _abbreviation_continues(seg: str, dot: int, nxt: int) -> bool:
    """True if the single '.' at `dot` closes an abbreviation and the text at `nxt` continues
    the same sentence (see rule 2 in the module docstring)."""
    k = dot
    lo = max(0, dot - _MAX_TOKEN)
    while k > lo and not seg[k - 1].isspace():
        k -= 1
    core = _TOKEN_SPLIT.split(seg[k:dot].lstrip(_OPENERS))[-1]
    if not core:
        return False
    following = seg[nxt]
    if len(core) == 1 and core.isupper():
        return True  # an initial: "N. Khrushchev"
    low = core.lower()
    if _DOTTED.fullmatch(core):
        if low in _NEVER_FINAL:
            return True
        if core in _ACRONYMS:
            if following.isdigit():
                return True
            word = _WORD.match(seg, nxt)
            return word is not None and word.group() in _ACRONYM_NOUNS
        # Unknown all-caps dotted tokens are initials ("N.S. Khrushchev"); lowercase ones
        # ("a.m.", "p.m.") end sentences like ordinary words.
        return core.isupper()
    if low in _NEVER_FINAL:
        return True
    return low in _NUMBER_PREFIXES and following.isdigit()


def _line_is_structural(seg: str, line_end: int) -> bool:
    """Is the line ending at `line_end` a bullet item, header or bold line?  After such a line a
    lowercase start is a new UI string, not a page-break continuation."""
    ls = seg.rfind("\n", 0, line_end) + 1
    if _BULLET.match(seg, ls, line_end) or _HEADER.match(seg, ls, line_end):
        return True
    return seg[ls:line_end].rstrip().endswith("**")


def _blank_breaks(seg: str) -> list[tuple[int, int]]:
    """(gap start, next non-space offset) of every blank-line gap that is a boundary (rules 5-6)."""
    out = []
    for m in _BLANK.finditer(seg):
        nm = _NON_SPACE.search(seg, m.end())
        if nm is None:
            break
        nxt = nm.start()
        if seg[nxt].islower() and not _line_is_structural(seg, m.start()):
            continue  # page-break artefact: the sentence runs on across the blank line
        out.append((m.start(), nxt))
    return out


def _cuts(seg: str) -> list[tuple[int, int]]:
    """Boundaries as (cut, resume): the previous sentence ends before `cut`, the next one starts
    at or after `resume` (they differ only for bullet markers, which belong to no sentence)."""
    cuts = [(gap, gap) for gap, _ in _blank_breaks(seg)]
    cuts.extend((m.start(), m.end()) for m in _BULLET.finditer(seg))
    for m in _HEADER.finditer(seg):
        cuts.append((m.start(), m.start()))
        cuts.append((m.end(), m.end()))
    for m in _BOLD_EOL.finditer(seg):
        if not m.group(2).islower():
            cuts.append((m.start(1), m.start(1)))

    for m in _PUNCT.finditer(seg):
        run_start = m.start()
        if run_start > 0 and seg[run_start - 1] in "[(":
            continue  # editorial "[...]", "(?)", "(!)"
        nm = _NON_SPACE.search(seg, m.end())
        if nm is None:
            break  # only whitespace left: the text ends here anyway
        nxt = nm.start()
        if not _starts_sentence(seg[nxt]):
            continue
        if m.group() == "." and _abbreviation_continues(seg, run_start, nxt):
            continue
        cuts.append((m.end(), m.end()))
    cuts.sort()
    return cuts


def _soft_cut(seg: str, s: int, limit: int) -> int:
    """Where to break an over-long sentence starting at `s` so the first piece ends by `limit`."""
    floor = s + (limit - s) // 4  # avoid peeling off tiny fragments
    for mark in (";", ","):
        j = seg.rfind(mark, floor, limit)
        if j != -1:
            return j + 1
    for k in range(limit - 1, s, -1):
        if seg[k].isspace():
            return k
    return limit


def _append_capped(seg: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while b - a > MAX_SENTENCE_CHARS:
        cut = _soft_cut(seg, a, a + MAX_SENTENCE_CHARS)
        pa, pb = strip_span(seg, a, cut)
        if pa < pb:
            out.append((pa, pb))
        a, b = strip_span(seg, cut, b)
    if a < b:
        out.append((a, b))


def _clamp(text: str, start: int, end: int | None) -> tuple[int, int]:
    n = len(text)
    start = min(max(start, 0), n)
    end = n if end is None else min(max(end, start), n)
    return start, end


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets into `text`) inside text[start:end].

    Every span is stripped of surrounding whitespace (text[s:e] == text[s:e].strip()), non-empty,
    at most MAX_SENTENCE_CHARS long; spans are ordered, non-overlapping and lie within
    [start, end).  The range is segmented as if it were the whole text (its first character
    counts as a line start).  Only whitespace and bullet markers fall between spans.
    """
    start, end = _clamp(text, start, end)
    seg = line_break_view(text[start:end])
    spans: list[tuple[int, int]] = []
    cur = 0
    for cut, resume in _cuts(seg):
        if cut >= cur:
            a, b = strip_span(seg, cur, cut)
            if a < b:
                _append_capped(seg, a, b, spans)
        # A cut inside a bullet marker (the "." of "1.") is swallowed by the marker.
        cur = max(cur, resume)
    a, b = strip_span(seg, cur, len(seg))
    if a < b:
        _append_capped(seg, a, b, spans)
    if start:
        spans = [(a + start, b + start) for a, b in spans]
    return spans


def paragraph_starts(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets (absolute) of the first non-space character of each paragraph in text[start:end].

    Paragraphs are separated by blank lines, except that a blank line followed by a lowercase
    continuation (a page-break artefact) does not start a new paragraph -- the same rule
    split_sentences uses, so no sentence ever crosses a paragraph start.  A paragraph that begins
    with a bullet starts at the marker.  Use bisect_right(starts, sentence_start) - 1 to find a
    sentence's paragraph index.
    """
    start, end = _clamp(text, start, end)
    seg = line_break_view(text[start:end])
    first = _NON_SPACE.search(seg)
    if first is None:
        return []
    out = [first.start() + start]
    for _, nxt in _blank_breaks(seg):
        if nxt + start > out[-1]:
            out.append(nxt + start)
    return out


def line_starts(text: str) -> list[int]:
    """Offset of the start of every line (0 first). A line ends at "\\r\\n", "\\n" or a lone "\\r"
    (old Mac files), so a text ending in a line break has a final, empty line."""
    if "\r" not in text:  # the common case, several times faster than the regular expression
        out = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            out.append(i + 1)
            i = find("\n", i + 1)
        return out
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def line_of(offset: int, line_starts: list[int]) -> int:
    """1-based line number containing `offset`, given line_starts(text)."""
    return bisect_right(line_starts, offset)

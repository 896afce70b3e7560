"""Reading a corpus folder: decoding, skipping bad files, and turning archive headers into metadata.

Two header layouts are understood (anything else still works, titled by its file name):

* the Wilson Center web-page dump: a date line, a "Citation" block holding the archivist's summary
  and a quoted citation (title, date, archive, translator), then "English HTML", then the body;
* the markdown export: ``**October 20, 1962**``, a bold title, ``**Citation:**``, ``**Summary:**``,
  ``**Original Language:**`` and ``**Contents:**`` sections, then the body.

Offsets everywhere are Python ``str`` indices of the UTF-8-decoded file (a BOM is dropped by the
decoder, so offsets are relative to the text *after* the BOM, which is what users see).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Optional

from .segment import strip_span
from .types import Document, DocumentMeta

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
MAX_FILE_BYTES = 50 * 1024 * 1024

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
_MONTH_RE = "(?:" + "|".join(m.capitalize() for m in MONTHS) + ")"
_DATE_PATTERNS = [
    # October 20, 1962
    (re.compile(rf"\b({_MONTH_RE})\s+(\d{{1,2}}),?\s+(\d{{4}})\b"), ("month", "day", "year")),
    # 20 October 1962
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_RE}),?\s+(\d{{4}})\b"), ("day", "month", "year")),
    # 1962-10-20
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("year", "nmonth", "day")),
    # October, 1964 / October 1964
    (re.compile(rf"\b({_MONTH_RE}),?\s+(\d{{4}})\b"), ("month", "year")),
]

# Title shapes that name who wrote to whom. The sender phrase usually ends with the surname
# ("Soviet Foreign Minister Gromyko"), so the last capitalised word is taken as the author.
_FROM_TO_RE = re.compile(
    r"\b(?:telegram|letter|cable|report|memorandum|memo|message|note|record|minutes|notes)\b"
    r"(?:\s+\w+)*?\s+from\s+(?P<sender>.+?)\s+to\s+(?:the\s+)?(?P<recipient>.+?)(?:,|\s+on\s+|\s+about\s+|$)",
    re.I,
)
_BY_RE = re.compile(r"\b(?:report|memorandum|speech|letter|note|notes)\s+(?:\w+\s+)?by\s+(?P<sender>[^,]+)", re.I)
_POSSESSIVE_REPORT_RE = re.compile(
    r"\bThe\s+(?P<sender>[A-Z][\w’'\-]+)\s+(?:Report|Memorandum|Letter|Telegram|Speech|Notes)\b"
)
# A name is capitalised words and initials ("Mark H. Doctoroff"); it ends at a comma, link or lowercase word.
_TRANSLATOR_RE = re.compile(
    r"\b[Tt]ransla(?:ted|tion)\s+by\s+(?P<name>[A-Z][\w’'\-]*\.?(?:[ \t]+(?:[A-Z][\w’'\-]*\.?|de|van|von|la|du))*)"
)
_WILSON_TITLE_RE = re.compile(r'^\s*["“](?P<title>.+?)[,]?["”],?\s*(?P<rest>.*)$', re.S)

# Lines of the web-page dump that are navigation, never content.
BOILERPLATE_LINES = {
    "search in",
    "get citation",
    "share document",
    "english html",
    "citation",
    "digital archive international history declassified",
}


class CorpusError(Exception):
    """The corpus as a whole cannot be used (missing folder, no readable documents)."""


@dataclass
class Skipped:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.path}: {self.reason}"


def iso_date(text: str) -> Optional[str]:
    """The first date found in `text`, as ISO (YYYY-MM-DD or YYYY-MM)."""
    for rx, order in _DATE_PATTERNS:
        m = rx.search(text)
        if not m:
            continue
        parts = dict(zip(order, m.groups()))
        year = int(parts["year"])
        if "nmonth" in parts:
            month = int(parts["nmonth"])
        else:
            month = MONTHS[parts["month"].lower()]
        if not 1 <= month <= 12:
            continue
        if "day" in parts:
            day = int(parts["day"])
            if not 1 <= day <= 31:
                continue
            return f"{year:04d}-{month:02d}-{day:02d}"
        return f"{year:04d}-{month:02d}"
    return None


def _surname(phrase: str) -> str:
    """'Soviet Foreign Minister Gromyko' -> 'Gromyko'; 'the CC CPSU' stays an institution."""
    phrase = phrase.strip().strip(".,;:")
    words = [w for w in re.split(r"\s+", phrase) if w]
    caps = [w for w in words if w[:1].isupper()]
    if not caps:
        return phrase
    last = caps[-1].strip("’'s,.")
    # An institution written in capitals (CC CPSU, USSR) is kept whole.
    if all(w.isupper() for w in caps) and len(caps) > 1:
        return " ".join(caps)
    return last


def people_from_title(title: str) -> tuple[Optional[str], Optional[str]]:
    m = _FROM_TO_RE.search(title)
    if m:
        recipient = re.sub(r"^the\s+", "", m.group("recipient").strip(), flags=re.I).rstrip(".,")
        return _surname(m.group("sender")), recipient
    m = _POSSESSIVE_REPORT_RE.search(title) or _BY_RE.search(title)
    if m:
        return _surname(m.group("sender")), None
    return None, None


def translator_from(text: str) -> Optional[str]:
    m = _TRANSLATOR_RE.search(text)
    if not m:
        return None
    name = m.group("name").strip()
    # a final period belongs to the sentence, unless it closes an initial ("H.")
    if name.endswith(".") and not re.search(r"\b[A-Z]\.$", name):
        name = name[:-1]
    return name


def _line_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, stripped text) of every non-blank line in text[start:end]."""
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        line = text[pos:stop]
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            yield pos + lead, pos + lead + len(stripped), stripped
        pos = stop + 1


def _parse_citation(meta: DocumentMeta, citation: str) -> None:
    """Fill title/date/archive/translator from a Wilson-style citation string."""
    meta.citation = citation
    m = _WILSON_TITLE_RE.match(citation)
    rest = citation
    if m:
        meta.title = m.group("title").strip().rstrip(",").strip()
        rest = m.group("rest")
    meta.translator = meta.translator or translator_from(citation)
    # archive = what follows the date, up to the translator / link
    arch = rest
    d = None
    for rx, _ in _DATE_PATTERNS:
        d = rx.search(arch)
        if d:
            break
    if d and d.start() < 40:
        arch = arch[d.end():]
    arch = re.split(r"(?i)\btransla(?:ted|tion)\s+by\b|<https?://", arch)[0]
    arch = arch.strip(" ,.;")
    if arch:
        meta.archive = arch
    if meta.date is None and d:
        meta.date = iso_date(d.group(0))
        meta.date_text = d.group(0)


def _parse_wilson_dump(text: str, meta: DocumentMeta) -> bool:
    """The web-page dump: '... get citation / summary / "citation" / share document / English HTML / body'."""
    m = re.search(r"^[ \t]*English HTML[ \t]*$", text, re.M)
    if not m:
        return False
    header_end = m.end()
    body = re.search(r"\S", text[header_end:])
    meta.body_start = header_end + body.start() if body else len(text)

    lines = list(_line_spans(text, 0, m.start()))
    content: list[tuple[int, int, str]] = []
    for s, e, line in lines:
        bare = line.lstrip("•*-· \t").strip().lower()
        if bare in BOILERPLATE_LINES or bare.startswith("this document was made possible"):
            meta.boilerplate_spans.append((s, e))
            continue
        if meta.date is None and iso_date(line) and len(line) < 40:
            meta.date = iso_date(line)
            meta.date_text = line
            continue
        content.append((s, e, line))
    for s, e, line in content:
        if line[:1] in "\"“" and re.search(r"(?i)archive|translat|collection|papers", line):
            meta.metadata_spans.append((s, e))
            _parse_citation(meta, line)
        elif len(line) > 60 and meta.summary is None:
            meta.summary = line
            meta.metadata_spans.append((s, e))
    return True


_MD_LABEL_RE = re.compile(r"^\*\*(?P<label>[^*]+?):\*\*[ \t]*$", re.M)


def _parse_markdown_export(text: str, meta: DocumentMeta) -> bool:
    labels = list(_MD_LABEL_RE.finditer(text))
    names = [m.group("label").strip().lower() for m in labels]
    if "citation" not in names and "contents" not in names:
        return False
    # Preamble before the first label: bold date line and bold title (possibly hard-wrapped).
    pre_end = labels[0].start()
    bolds = [
        (b.start(1), b.end(1), re.sub(r"\s+", " ", b.group(1)).strip())
        for b in re.finditer(r"\*\*(.+?)\*\*", text[:pre_end], re.S)
    ]
    titled = False
    for s, e, value in bolds:
        if meta.date is None and iso_date(value) and len(value) < 40:
            meta.date, meta.date_text = iso_date(value), value
        elif not titled:
            meta.title, titled = value, True
            meta.metadata_spans.append((s, e))
    body_start = len(text)
    for i, m in enumerate(labels):
        sec_start = m.end()
        sec_end = labels[i + 1].start() if i + 1 < len(labels) else len(text)
        s, e = strip_span(text, sec_start, sec_end)
        label = names[i]
        if label == "contents":
            # "Translation - English" announces the body, it is not part of it.
            t = re.match(r"[ \t]*(?:Translation|Original|Transcript)[^\n]{0,40}\n", text[s:e])
            if t:
                s, e = strip_span(text, s + t.end(), e)
            body_start = s
            break
        value = text[s:e]
        if label == "citation":
            meta.metadata_spans.append((s, e))
            bold_title = meta.title if titled else None
            _parse_citation(meta, value)
            # The bold heading is what the page shows; keep it over the citation's quoted title.
            if bold_title:
                meta.title = bold_title
        elif label == "summary":
            meta.summary = value
            meta.metadata_spans.append((s, e))
        elif label in ("original language", "language"):
            meta.language = value
        elif label in ("author", "from"):
            meta.author = value
        elif label in ("recipient", "to"):
            meta.recipient = value
    meta.body_start = body_start
    return True


def parse_header(text: str, filename: str) -> DocumentMeta:
    """Title, date, people and the document's anatomy (see qa/anatomy.py).

    The two web-export layouts are read first (their header is navigation and citation blocks);
    every document then goes through the same general anatomy: title line, dateline, header
    fields, salutation, signature, relayed texts and the Notes section.
    """
    from .anatomy import read_anatomy

    meta = DocumentMeta(title=Path(filename).stem)
    header_read = _parse_wilson_dump(text, meta) or _parse_markdown_export(text, meta)
    read_anatomy(text, meta, header_read)
    if meta.date is None:
        # no dateline: the first date near the top (an editorial note's "On June 19, 1961, …")
        meta.date = iso_date(text[meta.body_start:meta.body_start + 300])
    if meta.author is None or meta.recipient is None:
        author, recipient = people_from_title(meta.title or "")
        meta.author = meta.author or author
        meta.recipient = meta.recipient or recipient
    if meta.author is None and meta.summary:
        # "report prepared by Politburo member Dmitry Polyansky" — the summary names the author.
        m = re.search(r"\b(?:prepared|written|sent|signed)\s+by\s+(?:[a-z]+\s+)*(?P<name>(?:[A-Z][\w’'\-]+\s?){1,3})", meta.summary)
        if m:
            meta.author = _surname(m.group("name"))
    return meta


def apply_sidecar(meta: DocumentMeta, sidecar: dict) -> list[str]:
    """Override fields from NAME.meta.json; returns the names of unknown keys (reported, not fatal)."""
    known = {f.name for f in fields(DocumentMeta)}
    unknown = []
    for key, value in sidecar.items():
        if key in known:
            setattr(meta, key, value)
        else:
            unknown.append(key)
    if "date" in sidecar and sidecar["date"] and not re.match(r"^\d{4}(-\d{2}){0,2}$", str(sidecar["date"])):
        meta.date_text = str(sidecar["date"])
        meta.date = iso_date(str(sidecar["date"])) or str(sidecar["date"])
    return unknown


def sidecar_path(path: Path) -> Optional[Path]:
    for cand in (path.with_name(path.name + ".meta.json"), path.with_name(path.stem + ".meta.json")):
        if cand.is_file():
            return cand
    return None


def decode(raw: bytes) -> str:
    """UTF-8 (BOM tolerated). Raises ValueError naming why the bytes are not a text document."""
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}: {exc.reason})") from None


def corpus_files(root: Path) -> list[Path]:
    """All .txt/.md files below root, sorted, skipping hidden folders (such as an index inside it)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix.lower() in TEXT_SUFFIXES and not name.startswith("."):
                out.append(p)
    return out


def file_hash(raw: bytes, sidecar: Optional[bytes] = None) -> str:
    h = hashlib.sha256(raw)
    if sidecar is not None:
        h.update(b"\0sidecar\0")
        h.update(sidecar)
    return h.hexdigest()


def load_document(root: Path, path: Path) -> Document:
    """Read, decode and parse one file. Raises ValueError with a reason for files that must be skipped."""
    rel = path.relative_to(root).as_posix()
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
    raw = path.read_bytes()
    text = decode(raw)
    if not text.strip():
        raise ValueError("empty file")
    meta = parse_header(text, path.name)
    side = sidecar_path(path)
    side_raw = None
    if side is not None:
        side_raw = side.read_bytes()
        try:
            data = json.loads(side_raw.decode("utf-8-sig"))
            if not isinstance(data, dict):
                raise ValueError("the sidecar must hold a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"bad sidecar {side.name}: {exc}") from None
        apply_sidecar(meta, data)
    meta.body_start = max(0, min(int(meta.body_start), len(text)))
    return Document(doc=rel, text=text, sha256=file_hash(raw, side_raw), meta=meta)


def scan_corpus(root: Path) -> tuple[list[Path], list[Skipped]]:
    """The candidate files of a corpus. A missing folder is a CorpusError."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise CorpusError(f"corpus is not a folder: {root}")
    return corpus_files(root), []

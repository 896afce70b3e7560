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
import errno
import os
import re
import stat
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Optional

from .config import max_file_bytes
from .segment import line_break_view, strip_span
from .types import Document, DocumentMeta

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
# Sidecars and alias tables are small hand-written JSON files; anything bigger is not one.
MAX_JSON_BYTES = 1024 * 1024

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
    from .anatomy import lines

    return ((ln.start, ln.end, ln.text) for ln in lines(text, start, end) if ln.text)


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

    # Lone CRs (old Mac files) are line breaks to the header rules too; offsets are unchanged.
    text = line_break_view(text)
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


# Sidecar fields that hold text; `title` must be non-empty, the others may also be null.
_SIDECAR_TEXT_FIELDS = ("title", "date", "date_text", "author", "recipient", "citation", "archive",
                        "translator", "summary", "language", "kind", "place", "time", "subject",
                        "salutation", "closing", "signature", "source_note")


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sidecar_spans(value, text_len: int) -> Optional[list[tuple[int, int]]]:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and all(_is_int(x) for x in item)):
            return None
        s, e = item
        if not 0 <= s <= e <= text_len:
            return None
        out.append((s, e))
    return out


def apply_sidecar(meta: DocumentMeta, sidecar: dict, text_len: int) -> list[str]:
    """Override fields of `meta` from a NAME.meta.json object, field by field.

    A field of the wrong type or out of range, or an unknown field, is ignored and described in the
    returned list (each problem names the field); the valid fields still apply. `text_len` is the
    document's length in characters, the range of `body_start` and of the span lists.
    """
    known = {f.name for f in fields(DocumentMeta)}
    problems = []
    for key, value in sidecar.items():
        if key not in known:
            problems.append(f"unknown field {key!r} ignored")
            continue
        if key in _SIDECAR_TEXT_FIELDS:
            if key == "title" and not (isinstance(value, str) and value.strip()):
                problems.append(f"field 'title' must be non-empty text, not {_json_type(value)}; ignored")
                continue
            if value is not None and not isinstance(value, str):
                problems.append(f"field {key!r} must be text or null, not {_json_type(value)}; ignored")
                continue
            setattr(meta, key, value)
            if key == "date" and value and not re.match(r"^\d{4}(-\d{2}){0,2}$", value):
                meta.date_text = value
                meta.date = iso_date(value) or value
        elif key == "body_start":
            if not _is_int(value) or not 0 <= value <= text_len:
                problems.append(
                    f"field 'body_start' must be a whole number from 0 to {text_len} (the document's length), "
                    f"not {value!r}; ignored" if _is_int(value) else
                    f"field 'body_start' must be a whole number, not {_json_type(value)}; ignored"
                )
                continue
            meta.body_start = value
        elif key in ("metadata_spans", "boilerplate_spans"):
            spans = _sidecar_spans(value, text_len)
            if spans is None:
                problems.append(
                    f"field {key!r} must be a list of [start, end] pairs with 0 <= start <= end <= {text_len}; ignored"
                )
                continue
            setattr(meta, key, spans)
        elif key == "aliases":
            if not isinstance(value, dict):
                problems.append(f"field 'aliases' must be an object, not {_json_type(value)}; ignored")
                continue
            good = {k: v for k, v in value.items() if isinstance(v, str) and v.strip() and k.strip()}
            bad = [k for k in value if k not in good]
            if bad:
                problems.append(
                    f"field 'aliases': entries {', '.join(repr(k) for k in bad[:5])}{' …' if len(bad) > 5 else ''} "
                    "are not non-empty text; those entries ignored"
                )
            meta.aliases = good
        else:  # a DocumentMeta field without a rule above must not be settable blindly
            problems.append(f"field {key!r} cannot be set in a sidecar; ignored")
    return problems


def sidecar_path(path: Path) -> Optional[Path]:
    """NAME.txt.meta.json or NAME.meta.json beside `path`, if either exists as anything but a folder
    (a broken link or a FIFO is returned too, so that reading it explains why it is ignored)."""
    for cand in (path.with_name(path.name + ".meta.json"), path.with_name(path.stem + ".meta.json")):
        if os.path.lexists(cand) and not cand.is_dir():
            return cand
    return None


def decode(raw: bytes) -> str:
    """UTF-8 (BOM tolerated). Raises ValueError naming why the bytes are not a text document.

    A NUL byte anywhere makes the file binary (it is never part of a text document)."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"binary file (contains NUL bytes, the first at byte {nul})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}: {exc.reason})") from None


_KINDS = [
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
]


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _inside(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def _mb(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n / mb:.2f} MB ({n} bytes)"


def _points_to_folder(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:  # broken, looping: resolve_inside says which
        return False


def resolve_inside(root: Path, path: Path, root_real: Optional[str] = None) -> str:
    """The real path of `path`, which must be a regular file inside `root` after following links.

    Raises ValueError naming why not: a broken link, a link loop, a link out of the corpus, or not a
    regular file (a FIFO, a device, a folder...). Never opens the file.
    """
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise ValueError(f"broken link (its target {os.readlink(path)!r} does not exist)" if os.path.islink(path)
                         else "no such file") from None
    except OSError as exc:
        raise ValueError("link loop (the link leads back to itself)" if exc.errno == errno.ELOOP else f"cannot resolve: {exc.strerror}") from None
    if not _inside(real, root_real or os.path.realpath(root)):
        raise ValueError(f"link to outside the corpus ({real}); only files inside the corpus folder are read")
    st = os.stat(real)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"not a regular file ({_kind(st.st_mode)})")
    return real


def read_inside(root: Path, path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of `path`, a regular file inside `root`, at most `limit` of them.

    Checked before opening (resolve_inside) and again on the open file: it is opened without
    following a link and without blocking, so a file swapped for a FIFO meanwhile cannot hang the
    read, and reading stops past `limit` even if the file grows (or lies about its size).
    """
    real = resolve_inside(root, path)
    too_large = f"{what} too large (over {_mb(limit)}; the limit is set by QA_MAX_FILE_MB)" if what == "file" else (
        f"{what} too large (over {_mb(limit)})")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link swapped in after the check
            raise ValueError("became a link while being read; not read") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"not a regular file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise ValueError(too_large)
        chunks, n = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - n))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
            if n > limit:
                raise ValueError(too_large)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_json(raw: bytes):
    """A small JSON file (sidecar, alias table) as Python data; ValueError naming why it is not usable."""
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}: {exc.reason})") from None
    except RecursionError:
        raise ValueError("not usable JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


def corpus_files(root: Path) -> list[Path]:
    """The documents scan_corpus accepts."""
    return scan_corpus(root)[0]


def file_hash(raw: bytes, sidecar: Optional[bytes] = None) -> str:
    h = hashlib.sha256(raw)
    if sidecar is not None:
        h.update(b"\0sidecar\0")
        h.update(sidecar)
    return h.hexdigest()


def _read_sidecar(root: Path, side: Path, text_len: int, meta: DocumentMeta) -> tuple[Optional[bytes], list[str]]:
    """Apply the sidecar `side` to `meta`; returns its bytes (None when unusable) and warnings."""
    name = side.relative_to(root).as_posix()
    try:
        raw = read_inside(root, side, MAX_JSON_BYTES, what="sidecar")
        data = parse_json(raw)
    except (ValueError, OSError) as exc:
        return None, [f"sidecar {name} ignored: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"]
    if not isinstance(data, dict):
        return raw, [f"sidecar {name} ignored: it must hold a JSON object, not {_json_type(data)}"]
    return raw, [f"sidecar {name}: {p}" for p in apply_sidecar(meta, data, text_len)]


def load_document(root: Path, path: Path) -> Document:
    """Read, decode and parse one file. Raises ValueError with a reason for files that must be skipped.

    The file must be a regular file inside `root` (links are followed only within it) of at most
    QA_MAX_FILE_MB. A sidecar never causes a skip: its bad fields (or the whole of an unreadable
    sidecar) are ignored and described in `Document.warnings`.
    """
    rel = path.relative_to(root).as_posix()
    raw = read_inside(root, path, max_file_bytes())
    text = decode(raw)
    if not text.strip():
        raise ValueError("empty file")
    meta = parse_header(text, path.name)
    side = sidecar_path(path)
    side_raw, warnings = (None, []) if side is None else _read_sidecar(root, side, len(text), meta)
    meta.body_start = max(0, min(int(meta.body_start), len(text)))
    return Document(doc=rel, text=text, sha256=file_hash(raw, side_raw), meta=meta, warnings=warnings)


def scan_corpus(root: Path) -> tuple[list[Path], list[Skipped]]:
    """The documents of a corpus folder, and the candidates left out with the reason why.

    Candidates are .txt/.md/.markdown files below `root`, in sorted order; hidden files and folders
    (such as an index inside the corpus) are not candidates. Links to folders are never followed
    (so no loop, and nothing outside is reached through one). A candidate is read only if it is a
    regular file inside `root` once links are followed: links out of the corpus, broken links, link
    loops, FIFOs, sockets and devices are skipped. A file reached by several names (a link to
    another document, or hard links) is indexed once, under the name that is not a link (else the
    first name). A missing folder is a CorpusError.
    """
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise CorpusError(f"corpus is not a folder: {root}")
    root_real = os.path.realpath(root)
    skipped: list[Skipped] = []
    found: list[tuple[Path, bool, tuple[int, int]]] = []  # (path, is a link, file identity)

    def rel(p) -> str:
        return Path(p).relative_to(root).as_posix()

    # Depth-first in sorted order (a folder's files, then its subfolders), without recursion.
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(rel(folder) + "/", f"folder not readable ({exc.strerror})"))
            continue
        subfolders = []
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    subfolders.append(e.path)
                    continue
                is_link = e.is_symlink()
                if is_link and _points_to_folder(e.path):
                    skipped.append(Skipped(rel(e.path), "link to a folder (links to folders are not followed)"))
                    continue
                if Path(e.name).suffix.lower() not in TEXT_SUFFIXES:
                    continue
                if is_link:  # links are followed only to regular files inside the corpus
                    st = os.stat(resolve_inside(root, Path(e.path), root_real))
                    ident = (st.st_dev, st.st_ino)
                else:  # reached through real folders: inside by construction
                    st = e.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        raise ValueError(f"not a regular file ({_kind(st.st_mode)})")
                    # (readdir's inode can differ from stat's on overlay file systems: stat it)
                    ident = (st.st_dev, st.st_ino)
            except (ValueError, OSError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                skipped.append(Skipped(rel(e.path), reason))
                continue
            found.append((Path(e.path), is_link, ident))
        stack.extend(reversed(subfolders))
    # One name per file: the first name that is not a link, else the first name.
    first: dict[tuple[int, int], Path] = {}
    for p, is_link, ident in sorted(found, key=lambda f: f[1]):  # stable: non-links first
        if ident[1]:
            first.setdefault(ident, p)
    files = []
    for p, _, ident in found:
        rep = first.get(ident, p)
        if rep == p:
            files.append(p)
        else:
            skipped.append(Skipped(p.relative_to(root).as_posix(), f"same file as {rep.relative_to(root).as_posix()} (indexed once)"))
    return files, skipped

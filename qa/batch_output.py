"""Answer files written by `qa batch`: jsonl, csv and a Markdown report, row by row.

Every row is written and flushed as soon as it is answered, so a killed run leaves every
finished row on disk. With --resume, `open_output` reads such a file back (each format's
`Writer.scan`): the ids already answered, and where the last complete row ends (a torn last row
is cut off and asked again).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO
from urllib.parse import quote as url_quote, unquote as url_unquote

from .batch_input import BatchRow
from .display import printable
from .paths import OUTPUT_FORMATS, OutputUnusable, output_format  # noqa: F401 - part of this module's interface
from .text import fold_whitespace
from .types import Answer, Extract

# Output fields always win over input fields of the same name (kept as input_NAME instead), so
# a question file with its own `answers` column can never pass for the engine's answers.
JSONL_FIELDS = ("id", "question", "abstained", "answers", "interpreted", "closest", "constraints", "error")
CSV_FIELDS = (
    "id", "question", "interpreted", "abstained",
    "quote", "reference", "score", "speaker", "doc", "start", "end", "line",
    "quote_2", "reference_2", "quote_3", "reference_3", "error",
)  # fmt: skip


@dataclass
class RowResult:
    row: BatchRow
    answer: Optional[Answer] = None
    error: Optional[str] = None

    @property
    def status(self) -> str:
        if self.error is not None or self.answer is None:
            return "error"
        return "abstained" if self.answer.abstained else "answered"


@dataclass
class Tally:
    """What the summary line and the report's header count."""

    answered: int = 0
    abstained: int = 0
    errors: int = 0

    def add(self, status: str) -> None:
        if status == "answered":
            self.answered += 1
        elif status == "abstained":
            self.abstained += 1
        else:
            self.errors += 1

    @property
    def questions(self) -> int:
        return self.answered + self.abstained + self.errors

    def describe(self) -> str:
        return (
            f"{self.questions} question{'s' if self.questions != 1 else ''}: {self.answered} answered, "
            f"{self.abstained} abstained, {self.errors} error{'s' if self.errors != 1 else ''}"
        )


@dataclass
class Existing:
    """An output file found on --resume."""

    done: dict[str, str] = field(default_factory=dict)  # id -> status of the rows already written
    keep: int = 0  # characters of the file, read untranslated (newline=""), that hold complete rows
    has_header: bool = False


def renamed_fields(columns: list[str], reserved: tuple[str, ...]) -> dict[str, str]:
    """Input field name -> output name: `input_` in front of any name the output itself uses."""
    out: dict[str, str] = {}
    taken = set(reserved)
    for name in columns:
        new = name
        while new in taken:
            new = f"input_{new}"
        out[name] = new
        taken.add(new)
    return out


# -- writers -----------------------------------------------------------------------------------------


class Writer:
    """One output format. `begin` once for a new file, `write` per row, `finish` at the end."""

    reserved: tuple[str, ...] = ()

    def __init__(self, stream: TextIO, columns: list[str], title: str, path: Optional[Path] = None):
        self.stream = stream
        self.path = path  # None when writing to stdout
        self.title = title
        self.names = renamed_fields(columns, self.reserved)
        self.written = 0  # rows written by this run

    def begin(self) -> None:
        pass

    def write(self, result: RowResult) -> None:
        self.put(self.format_row(result))
        self.written += 1

    def put(self, text: str) -> None:
        """Write and flush; a file that cannot take it (full disk, /proc) is an OutputUnusable."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            if self.path is None:
                raise  # stdout: a closed pipe is handled by the command line
            raise OutputUnusable(f"cannot write {printable(self.path)}: {exc.strerror or exc}") from None

    def format_row(self, result: RowResult) -> str:
        raise NotImplementedError

    def finish(self, tally: Tally) -> None:
        self.stream.flush()

    def close(self) -> None:
        if self.path is not None:
            self.stream.close()

    def carried(self, row: BatchRow) -> dict:
        return {self.names[k]: v for k, v in row.fields.items()}

    @classmethod
    def scan(cls, text: str, expected: "Writer") -> Existing:
        raise NotImplementedError


class JsonlWriter(Writer):
    reserved = JSONL_FIELDS

    def format_row(self, result: RowResult) -> str:
        out = {"id": result.row.id}
        if result.status == "error":
            out["question"] = result.row.question
            out["error"] = result.error
        else:
            out.update(result.answer.to_json())  # exactly what `qa ask --json` prints
        out.update(self.carried(result.row))
        return json.dumps(out, ensure_ascii=False) + "\n"

    @classmethod
    def scan(cls, text: str, expected: Writer) -> Existing:
        found = Existing(has_header=True)
        pos = 0
        lineno = 0
        while True:
            nl = text.find("\n", pos)
            if nl < 0:
                break  # anything after the last newline is a torn write
            lineno += 1
            line = text[pos:nl]
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    obj = None
                if not isinstance(obj, dict) or "id" not in obj:
                    raise OutputUnusable(f"line {lineno} is not a `qa batch` jsonl row")
                found.done[str(obj["id"])] = (
                    "error" if obj.get("error") is not None else "abstained" if obj.get("abstained") else "answered"
                )
            pos = nl + 1
        found.keep = pos
        return found


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class CsvWriter(Writer):
    reserved = CSV_FIELDS

    @property
    def header(self) -> list[str]:
        return [*CSV_FIELDS, *self.names.values()]

    def _line(self, values: list) -> str:
        buf = io.StringIO()
        csv.writer(buf).writerow([_cell(v) for v in values])
        return buf.getvalue()

    def begin(self) -> None:
        self.put(self._line(self.header))

    def format_row(self, result: RowResult) -> str:
        row = result.row
        cells: dict[str, object] = {"id": row.id, "question": row.question, "error": result.error}
        if result.answer is not None:
            a = result.answer
            cells.update(question=a.question, interpreted=a.interpreted, abstained=a.abstained)
            for n, ex in enumerate(a.answers[:3], 1):
                suffix = "" if n == 1 else f"_{n}"
                cells[f"quote{suffix}"] = ex.quote  # verbatim: quote == file_text[start:end]
                cells[f"reference{suffix}"] = ex.reference()
            if a.answers:
                top = a.answers[0]
                cells.update(score=round(top.score, 4), speaker=top.speaker, doc=top.doc, start=top.start, end=top.end, line=top.line)
        carried = self.carried(row)
        return self._line([cells.get(c) for c in CSV_FIELDS] + [carried.get(c) for c in self.names.values()])

    @classmethod
    def scan(cls, text: str, expected: Writer) -> Existing:
        found = Existing()
        start = 0
        quoted = False
        # A record ends at a newline outside quotes; a doubled quote inside a field toggles twice.
        for m in re.finditer(r'["\n]', text):
            if m.group() == '"':
                quoted = not quoted
                continue
            if quoted:
                continue
            record = text[start : m.end()]
            values = next(csv.reader(io.StringIO(record, newline="")), [])
            start = m.end()
            if not found.has_header:
                if values != expected.header:
                    raise OutputUnusable("its columns are not the ones this batch writes (another input or format?)")
                found.has_header = True
            elif len(values) == len(expected.header):
                status = "error" if values[CSV_FIELDS.index("error")] else (
                    "abstained" if values[CSV_FIELDS.index("abstained")] == "true" else "answered"
                )
                found.done[values[0]] = status
            elif any(v.strip() for v in values):
                raise OutputUnusable(f"record {len(found.done) + 2} has {len(values)} fields, not {len(expected.header)}")
            found.keep = start
        return found


_MD_ESCAPE = re.compile(r"([\\`*\[\]<>])")
_MD_ROW_END = re.compile(r"^<!-- qa-batch row=(\S+) status=(\w+) -->\n", re.M)
_MD_SUMMARY = re.compile(r"<!-- qa-batch summary -->\n.*?<!-- /qa-batch summary -->\n", re.S)
_MD_TITLE = "<!-- qa-batch report -->\n"


def md_escape(text: str) -> str:
    text = _MD_ESCAPE.sub(r"\\\1", printable(fold_whitespace(text)))
    # A leading # + - or "1." would turn the line into a heading or a list.
    return re.sub(r"^([#+\-]|\d+[.)])", r"\\\1", text)


class MarkdownWriter(Writer):
    """A report for reading: questions, extracts as blockquotes with references, summary on top.

    Rows are appended as they are answered; on a file the summary block at the top is filled in
    when the batch ends (on stdout or a device, which cannot be rewritten, it comes at the end instead).
    """

    @property
    def rewritable(self) -> bool:
        """A regular file (through any links): the summary on top can be filled in by a rename."""
        return self.path is not None and os.path.isfile(self.path)

    def begin(self) -> None:
        where = "is filled in when the batch finishes" if self.rewritable else "is at the end of this report"
        self.put(
            f"{_MD_TITLE}# Answers to {md_escape(printable(self.title))}\n\n"
            f"<!-- qa-batch summary -->\n*The summary {where}.*\n<!-- /qa-batch summary -->\n\n"
        )

    @staticmethod
    def summary_block(tally: Tally) -> str:
        return (
            "<!-- qa-batch summary -->\n"
            f"| questions | answered | abstained | errors |\n|---|---|---|---|\n"
            f"| {tally.questions} | {tally.answered} | {tally.abstained} | {tally.errors} |\n"
            "<!-- /qa-batch summary -->\n"
        )

    def format_row(self, result: RowResult) -> str:
        row, a = result.row, result.answer
        asked = a.question if a is not None else row.question
        lines = [f"## {md_escape(str(row.id))}. {md_escape(asked if isinstance(asked, str) else json.dumps(asked))}", ""]
        details = [f"{md_escape(self.names[k])}: {md_escape(_cell(v))}" for k, v in row.fields.items() if not isinstance(v, (dict, list))]
        if details:
            lines += [" · ".join(details), ""]
        if result.status == "error":
            lines += [f"**Error:** {md_escape(result.error or '')}", ""]
        else:
            if a.interpreted and a.interpreted != a.question:
                lines += [f"*Interpreted as:* {md_escape(a.interpreted)}", ""]
            if a.abstained:
                lines += ["**No passage in this archive answers that.**", ""]
                if a.closest:
                    lines += ["Closest passages (not answers):", ""]
            for ex in a.closest if a.abstained else a.answers:
                lines += _md_extract(ex)
        lines += [f"<!-- qa-batch row={url_quote(row.key, safe='')} status={result.status} -->", "", ""]
        return "\n".join(lines)

    def finish(self, tally: Tally) -> None:
        if not self.rewritable:
            self.put("---\n\n" + self.summary_block(tally))
            return
        self.close()
        # Rewritten through a temporary file and an atomic rename: a kill here loses nothing. The
        # rename replaces the link's target, never a link of the user's.
        real = Path(os.path.realpath(self.path))
        tmp = None
        try:
            with open(real, encoding="utf-8", newline="") as f:
                text = f.read()
            text = _MD_SUMMARY.sub(lambda m: self.summary_block(tally), text, count=1)
            # A fresh name of our own beside the report: never a file the user already has.
            fd, name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
            tmp = Path(name)
            with open(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(tmp, real)
        except OSError as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise OutputUnusable(f"cannot write the summary into {printable(self.path)}: {exc.strerror or exc}") from None

    @classmethod
    def scan(cls, text: str, expected: Writer) -> Existing:
        if not text.startswith(_MD_TITLE):
            raise OutputUnusable("it is not a `qa batch` Markdown report")
        header = _MD_SUMMARY.search(text)
        if header is None:
            return Existing()  # torn before its first row: start the report again
        found = Existing(has_header=True)
        ends = list(_MD_ROW_END.finditer(text))
        for m in ends:
            found.done[url_unquote(m.group(1))] = m.group(2)
        # Everything after the last complete row (a torn row, or a summary printed at the end) goes;
        # +1 keeps the blank line that separates rows.
        found.keep = min((ends[-1] if ends else header).end() + 1, len(text))
        return found


def _md_extract(ex: Extract) -> list[str]:
    speaker = f"**{md_escape(ex.speaker)}:** " if ex.speaker else ""
    ref = md_escape(printable(ex.reference()))  # a file name's line break shows as \\n
    if ex.section == "metadata":
        ref += " (archivist's note, not the document's text)"
    return [f"> {speaker}{md_escape(ex.quote)}", "", f"— {ref} · score {ex.score:.2f}", ""]


WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "csv": CsvWriter, "md": MarkdownWriter}


def open_output(
    path: Optional[str], fmt: str, columns: list[str], title: str, resume: bool, stdout: TextIO
) -> tuple[Writer, Existing]:
    """A writer positioned after the rows already on disk (with --resume) or on a new file."""
    cls = WRITERS[fmt]
    if path is None or path == "-":
        writer = cls(stdout, columns, title)
        writer.begin()
        return writer, Existing()
    target = Path(path)
    shown = printable(path)
    existing = Existing()
    try:
        # Read as written: untranslated line ends (a CSV row ends in CRLF), and a character torn in
        # half by a kill kept as surrogates, so that `keep` counts exactly the characters on disk.
        text = ""
        if resume and target.exists():
            with open(target, encoding="utf-8", errors="surrogateescape", newline="") as f:
                text = f.read()
        if text.strip():
            probe = cls(io.StringIO(), columns, title, target)
            try:
                existing = cls.scan(text, probe)
            except OutputUnusable as exc:
                raise OutputUnusable(f"cannot resume into {shown}: {exc}") from None
            kept = text[: existing.keep].encode("utf-8", "surrogateescape")
            try:
                kept.decode("utf-8")
            except UnicodeDecodeError:
                raise OutputUnusable(f"cannot resume into {shown}: it is not UTF-8 text") from None
            with open(target, "r+b") as f:
                f.truncate(len(kept))
        stream = open(target, "a" if existing.has_header else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputUnusable(f"cannot write {shown}: {exc.strerror or exc}") from None
    writer = cls(stream, columns, title, target)
    if not existing.has_header:
        writer.begin()
    return writer, existing

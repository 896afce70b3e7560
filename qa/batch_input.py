"""Question files for `qa batch`: .txt, .csv and .jsonl read into typed rows.

A file that cannot be read at all raises `InputUnusable` (exit code 2); a single bad row (bad
JSON, a CSV row with the wrong number of fields, a missing question) becomes a row carrying an
`error`, so one typo never costs a teacher the rest of the batch.

`read_text` and `json_lines` are shared with `qa grade`'s quiz reader (qa/grade.py), so both
commands read bytes, BOMs and line ends alike and word their file errors alike.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

INPUT_FORMATS = ("txt", "csv", "jsonl")
_EXTENSIONS = {".txt": "txt", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_LINE_BREAKS = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t\r\n]*")


class FileUnusable(ValueError):
    """An input file cannot be used at all; each command raises its own subclass."""


class InputUnusable(FileUnusable):
    """The question file cannot be used at all (missing, undecodable, wrong format)."""


@dataclass
class BatchRow:
    number: int  # 1-based position among the file's rows (blank and comment lines not counted)
    id: object  # the input's id, or `number` when it has none
    question: object  # as given; validated by the engine when asked
    conversation: Optional[str] = None  # rows sharing it are asked in order as one dialogue
    fields: dict = field(default_factory=dict)  # other input fields, carried through to the output
    error: Optional[str] = None  # why the row could not be read; it is then not asked

    @property
    def key(self) -> str:
        """The id as text: what --resume compares (JSON ids may be numbers)."""
        return str(self.id)


@dataclass
class QuestionFile:
    name: str
    format: str
    rows: list[BatchRow]
    columns: list[str]  # carried-through field names in first-seen order (CSV output needs them up front)


def input_format(path: str, given: Optional[str]) -> str:
    if given:
        return given
    if path == "-":
        raise InputUnusable("reading questions from stdin needs --input-format txt|csv|jsonl")
    fmt = _EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputUnusable(
            f"{path}: unknown question file type {Path(path).suffix or '(no extension)'!r}; "
            "use .txt (one question a line), .csv (with a 'question' column) or .jsonl, or pass --input-format"
        )
    return fmt


def read_questions(path: str, fmt: Optional[str] = None) -> QuestionFile:
    """Read a question file ("-" = stdin) into rows; raises InputUnusable when it cannot be used."""
    fmt = input_format(path, fmt)
    text = read_text(path, InputUnusable, "question file")
    rows = {"txt": _txt_rows, "csv": _csv_rows, "jsonl": _jsonl_rows}[fmt](text, path)
    if not rows:
        raise InputUnusable(f"{path}: no questions in the file")
    _mark_duplicate_ids(rows)
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r.fields))
    return QuestionFile(name="stdin" if path == "-" else path, format=fmt, rows=rows, columns=list(columns))


def read_text(path: str | Path, error: type[FileUnusable], kind: str) -> str:
    """The text of a UTF-8 file ("-" = stdin), its BOM (Excel's habit) dropped; anything that makes
    the file unusable raises `error` saying so in words, never an OS error or a traceback.
    `kind` names the file in messages ("question file")."""
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {kind}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in raw[:8192]:
        raise error(f"{path}: is a binary file, not a {kind}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8") from None


def lines(text: str) -> list[str]:
    """The text's lines. Only \\n ends a line: str.splitlines() would also split on U+2028 and
    friends, which JSON strings may legally contain."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def json_lines(text: str) -> Iterator[tuple[int, object]]:
    """(1-based line number, parsed value or the json.JSONDecodeError) for each non-blank line."""
    for lineno, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, exc


def _txt_rows(text: str, path: str) -> list[BatchRow]:
    rows = []
    for line in lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        n = len(rows) + 1
        rows.append(BatchRow(number=n, id=n, question=line))
    return rows


def _jsonl_rows(text: str, path: str) -> list[BatchRow]:
    rows = []
    for lineno, obj in json_lines(text):
        n = len(rows) + 1
        if isinstance(obj, json.JSONDecodeError):
            rows.append(BatchRow(number=n, id=n, question=None, error=f"line {lineno}: not valid JSON ({obj.msg})"))
            continue
        if not isinstance(obj, dict):
            rows.append(BatchRow(number=n, id=n, question=None, error=f"line {lineno}: expected a JSON object"))
            continue
        rows.append(_record_row(n, obj, where=f"line {lineno}"))
    return rows


def _csv_rows(text: str, path: str) -> list[BatchRow]:
    # newline="" semantics: quoted fields may hold commas, CRLFs and newlines.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputUnusable(f"{path}: empty CSV file") from None
    except csv.Error as exc:
        raise InputUnusable(f"{path}: unreadable CSV header ({exc})") from None
    header = [h.strip() for h in header]
    lowered = [h.lower() for h in header]
    if "question" not in lowered:
        raise InputUnusable(f"{path}: the CSV header has no 'question' column (found: {', '.join(header) or 'nothing'})")
    # Header names are matched case-insensitively for the columns qa reads, kept as typed otherwise.
    names = [h.lower() if h.lower() in ("question", "id", "conversation") else h for h in header]
    rows = []
    for start, end, values in csv_records(reader, text):
        n = len(rows) + 1
        if isinstance(values, csv.Error):
            # An unterminated quote swallows the rest of the file: nothing after it can be trusted.
            rows.append(BatchRow(number=n, id=n, question=None, error=f"line {start}: broken CSV quoting ({values})"))
            break
        if len(values) != len(names):
            row = BatchRow(number=n, id=n, question=None, error=f"line {end}: {field_count_problem(text, start, end, values, names)}")
            if "id" in names and len(values) > names.index("id") and values[names.index("id")].strip():
                row.id = values[names.index("id")].strip()
            rows.append(row)
            continue
        rows.append(_record_row(n, dict(zip(names, values)), where=f"line {end}"))
    return rows


def field_count_problem(text: str, start: int, end: int, values: list, header: list, dialect=csv.excel) -> str:
    """'3 fields where the header has 2', and for a record over several lines where its quote opened."""
    problem = f"{len(values)} fields where the header has {len(header)}"
    opened = quote_across_lines(text, start, end, dialect)[0] if end > start else None
    if opened is not None:
        problem += (
            f" (the quote opened on line {opened} runs to line {end}: lines {opened}–{end} were read as one row;"
            " is a closing \" missing?)"
        )
    return problem


def csv_records(reader, text: Optional[str] = None) -> Iterator[tuple[int, int, list[str] | csv.Error]]:
    """(first line, last line, fields) of each non-blank record a csv.reader has left (a quoted
    field may span lines); a record the csv module cannot parse comes with its csv.Error instead.

    Given the reader's `text`, a last record whose quote is never closed (the csv module silently
    reads the rest of the file into that one field) also comes as a csv.Error, naming the line
    where the quote opened, with its first line as `first line`."""
    line = reader.line_num
    pending = None
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            record = (line + 1, reader.line_num, exc)
            line = reader.line_num
        else:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            record = (start, line, values)
        if pending is not None:
            yield pending
        pending = record
    if pending is None:
        return
    start, end, values = pending
    if text is not None and end > start and not isinstance(values, csv.Error):
        opened = unclosed_quote(text, start, reader.dialect)
        if opened is not None:
            pending = (opened, end, csv.Error(
                f"the quote opened on line {opened} is never closed, so lines {opened}–{end} were read as one "
                "row; close it with a \" or remove it"
            ))
    yield pending


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def unclosed_quote(text: str, start: int, dialect) -> Optional[int]:
    """The line where a quoted field opens and never closes, reading CSV `text` from line `start`
    (1-based, lines as the csv module counts them) to its end; None when every quote closes."""
    opened, still_open = quote_across_lines(text, start, None, dialect)
    return opened if still_open else None


def quote_across_lines(text: str, start: int, end: Optional[int], dialect) -> tuple[Optional[int], bool]:
    """Reading lines `start`..`end` (None: to the end) of CSV `text`: the line where the first quoted
    field that runs over a line break opened (None if none does), and whether a quote is still open
    at the end. A record with the wrong number of fields that spans lines usually has a missing
    closing quote on that line."""
    q, delim = dialect.quotechar, dialect.delimiter
    lines = _LINE.findall(text)
    last = len(lines) if end is None else min(end, len(lines))
    state, opened, crossing = "start", None, None  # start of a field, in an unquoted / a quoted field, quote seen
    for lineno in range(start, last + 1):
        for c in lines[lineno - 1]:
            if state == "quoted":
                if c == q:
                    state = "quote"
                elif c in "\r\n" and crossing is None:
                    crossing = opened
            elif state == "quote" and c == q:
                state = "quoted"  # a doubled quote stands for one
            elif state == "start" and c == q:
                state, opened = "quoted", lineno
            elif c == delim or c in "\r\n":
                state = "start"
            else:
                state = "field"
    return crossing, state == "quoted"


def _record_row(n: int, record: dict, where: str) -> BatchRow:
    """A CSV row or JSON object as a BatchRow: question, id and conversation taken out, the rest carried."""
    fields = dict(record)
    question = fields.pop("question", None)
    if isinstance(question, str):
        # A spreadsheet cell typed over two lines is still one question.
        question = _LINE_BREAKS.sub(" ", question)
    raw_id = fields.pop("id", None)
    row_id = raw_id if raw_id not in (None, "") else n
    if isinstance(row_id, str):
        row_id = row_id.strip() or n
    # `conversation` stays among the carried fields: the output shows which dialogue a row was in.
    conversation = fields.get("conversation")
    if conversation is not None:
        conversation = str(conversation).strip() or None
    row = BatchRow(number=n, id=row_id, question=question, conversation=conversation, fields=fields)
    if question is None:
        row.error = f"{where}: no 'question' field"
    elif not isinstance(row_id, (str, int)) or isinstance(row_id, bool):
        row.error = f"{where}: 'id' must be text or a whole number"
        row.id = n
    return row


def _mark_duplicate_ids(rows: list[BatchRow]) -> None:
    # Ids are how output rows are joined, diffed and resumed, so two rows may not share one.
    first: dict[str, int] = {}
    for r in rows:
        if r.key in first:
            if r.error is None:
                r.error = f"duplicate id {r.key!r} (first used on row {first[r.key]})"
        else:
            first[r.key] = r.number

"""Answer a file of questions with one archive: `qa batch` without the command line.

    from qa import Archive
    from qa.batch import run_batch
    from qa.batch_input import read_questions
    from qa.batch_output import open_output

    questions = read_questions("questions.csv")
    writer, existing = open_output("answers.jsonl", "jsonl", questions.columns, questions.name, resume=True, stdout=sys.stdout)
    report = run_batch(Archive.open("seeds"), questions.rows, writer, done=existing.done)

Rows are taken in windows: the independent questions of a window are embedded in one model call
(`Archive.ask_many`), rows sharing a `conversation` go through one `Conversation` each, in file
order. Each window's rows are written in file order as soon as the window is answered.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from .batch_input import BatchRow
from .batch_output import RowResult, Tally, Writer
from .engine import BadQuestion

if TYPE_CHECKING:
    from .conversation import Conversation
    from .engine import Archive
    from .types import Answer

WINDOW = 64  # rows per embedding call: the encoder's batch size, and a progress tick


@dataclass
class BatchReport:
    tally: Tally  # every row now in the output, including those a --resume found there
    written: int  # rows written by this run
    skipped: int  # rows already in the output (--resume)

    def describe(self, output: Optional[str] = None) -> str:
        """The one-line summary `qa batch` prints, saying plainly whether rows failed."""
        line = self.tally.describe()
        if self.skipped:
            line += f" ({self.skipped} already in {output}, {self.written} new)"
        if output is not None:
            line += f" -> {output}"
        errors = self.tally.errors
        if errors:
            line += f"; {errors} row{'s' if errors != 1 else ''} failed (see their 'error' field)"
        return line


def run_batch(
    archive: "Archive",
    rows: list[BatchRow],
    writer: Writer,
    k: int = 5,
    done: Optional[dict[str, str]] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> BatchReport:
    """Answer every row not in `done` (id -> status of rows already written) and write it."""
    done = done or {}
    tally = Tally()
    for status in done.values():
        tally.add(status)
    # A follow-up needs its earlier turns even when they were answered by a killed run: those
    # are asked again, unwritten, when a later turn of the same dialogue is still to do.
    last_todo: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row.key not in done and row.conversation is not None:
            last_todo[row.conversation] = i
    work = [
        row
        for i, row in enumerate(rows)
        if row.key not in done or (row.conversation is not None and i < last_todo.get(row.conversation, -1))
    ]
    dialogues: dict[str, "Conversation"] = {}
    written = 0
    for lo in range(0, len(work), WINDOW):
        window = work[lo : lo + WINDOW]
        results = _answer_window(archive, window, dialogues, k)
        for row, result in zip(window, results):
            if row.key in done:
                continue  # a replayed earlier turn: already on disk
            writer.write(result)
            tally.add(result.status)
            written += 1
        if progress is not None:
            progress(sum(1 for row in window if row.key not in done))
    writer.finish(tally)
    return BatchReport(tally=tally, written=written, skipped=sum(1 for row in rows if row.key in done))


def _answer_window(archive: "Archive", window: list[BatchRow], dialogues: dict, k: int) -> list[RowResult]:
    results = [RowResult(row, error=row.error) for row in window]
    single = [i for i, row in enumerate(window) if row.error is None and row.conversation is None]
    for i, outcome in zip(single, _ask_many(archive, [window[i].question for i in single], k)):
        results[i].answer, results[i].error = outcome
    for i, row in enumerate(window):
        if row.error is None and row.conversation is not None:
            dialogue = dialogues.setdefault(row.conversation, archive.conversation())
            results[i].answer, results[i].error = _ask_one(lambda: dialogue.ask(row.question, k=k))
    return results


Outcome = tuple[Optional["Answer"], Optional[str]]  # an answer, or why there is none


def _ask_many(archive: "Archive", questions: list, k: int) -> list[Outcome]:
    if not questions:
        return []
    try:
        answers = archive.ask_many(questions, k=k)
    except Exception:  # noqa: BLE001
        # Something broke the whole batched call: ask one by one so only the culprit row fails.
        return [_ask_one(lambda q=q: archive.ask(q, k=k)) for q in questions]
    return [(None, str(a)) if isinstance(a, Exception) else (a, None) for a in answers]


def _ask_one(ask: Callable[[], "Answer"]) -> Outcome:
    try:
        return ask(), None
    except BadQuestion as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - an engine failure on one row must not end the batch
        return None, f"could not be answered ({type(exc).__name__}: {exc})"

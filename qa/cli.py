"""`qa` command line: thin wrappers over `qa.engine.Archive`.

Exit codes: 0 success, 1 some rows/questions failed, 2 unusable input (bad question, empty
corpus, unreadable file), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from .display import printable

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def say(message: object) -> None:
    """A message for the person at the terminal (stderr): file names and text from documents in it
    have their control characters shown, never obeyed."""
    print(printable(message), file=sys.stderr)


class IndexProgress:
    """A rich progress bar on stderr for index builds; silent when stderr is not a terminal."""

    def __init__(self, label: str = "Embedding", minimum: int = 200):
        self.label = label
        self.minimum = minimum
        self._progress = None

    def __enter__(self):
        return self

    def __call__(self, total: int):
        if not sys.stderr.isatty() or total < self.minimum:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(f"[bold]{self.label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task(self.label, total=total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()


def _constraint_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("documents", "only documents that match (README: Constraints on documents)")
    g.add_argument("--from", dest="date_from", metavar="DATE", help="dated on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD)")
    g.add_argument("--to", dest="date_to", metavar="DATE", help="dated on or before DATE (YYYY, YYYY-MM or YYYY-MM-DD)")
    g.add_argument("--author", action="append", metavar="NAME", help="written by NAME (repeatable: any of them)")
    g.add_argument("--recipient", action="append", metavar="NAME", help="addressed to NAME (repeatable)")
    g.add_argument("--kind", action="append", metavar="KIND", help="letter, telegram, memorandum of conversation, … (repeatable)")


def explicit_constraints(args):
    """The --from/--to/--author/--recipient/--kind options as Constraints (None when none given);
    raises qa.constraints.BadConstraint naming a bad value."""
    from .constraints import Constraints

    c = Constraints.explicit_options(
        getattr(args, "date_from", None), getattr(args, "date_to", None),
        getattr(args, "author", None) or (), getattr(args, "recipient", None) or (), getattr(args, "kind", None) or (),
    )
    return c if c.explicit else None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of .txt/.md documents (default: ./seeds)")
    p.add_argument("--index", type=Path, help="index folder (default: ./index for the seeds)")


def corpus_of(args) -> Path:
    """--corpus (default ./seeds), refused with PathUnusable unless it is a folder."""
    from .config import default_corpus
    from .paths import check_corpus

    corpus = args.corpus or default_corpus()
    check_corpus(corpus)
    return corpus


def open_archive(args, refresh: bool = True):
    from .engine import Archive

    corpus = corpus_of(args)
    with IndexProgress() as progress:
        return Archive.open(corpus, args.index, refresh=refresh, log=say, progress_factory=progress)


# -- human output ----------------------------------------------------------------------------------


def print_answer(answer, console=None) -> None:
    from rich.console import Console
    from rich.text import Text

    from .export import NO_ANSWER
    from .highlight import matched_spans
    from .text import fold_whitespace

    console = console or Console(highlight=False)
    if answer.interpreted and answer.interpreted != answer.question:
        console.print(Text(f"Interpreted as: {printable(answer.interpreted)}", style="italic dim"))
    if answer.constraints:
        from .constraints import describe_json

        console.print(Text(f"Documents: {printable(describe_json(answer.constraints))}", style="italic dim"))
    question = printable(answer.interpreted or answer.question)

    def render(ex, n: int, closest: bool = False) -> None:
        quote = printable(fold_whitespace(ex.quote))
        body = Text("> ", style="dim")
        if ex.speaker:
            body.append(f"{printable(ex.speaker)}: ", style="bold cyan")
        text = Text(quote)
        for start, end in matched_spans(quote, question):
            text.stylize("bold yellow", start, end)
        body.append_text(text)
        console.print(Text(f"[{n}] ", style="bold"), body, sep="")
        ref = f"    — {printable(ex.reference())}"
        if ex.section == "metadata":
            ref += " (archivist's note, not the document's text)"
        console.print(Text(ref + f"  score {ex.score:.2f}", style="dim"))

    if answer.abstained:
        console.print(Text(NO_ANSWER, style="bold red"))
        if answer.closest:
            console.print(Text("Closest passages (not answers):", style="bold"))
            for n, ex in enumerate(answer.closest, 1):
                render(ex, n, closest=True)
        return
    for n, ex in enumerate(answer.answers, 1):
        render(ex, n)


# -- commands --------------------------------------------------------------------------------------


def cmd_ask(args) -> int:
    from .constraints import BadConstraint
    from .engine import BadQuestion, validate_question

    try:
        question = validate_question(args.question)
        constraints = explicit_constraints(args)
    except (BadQuestion, BadConstraint) as exc:
        say(f"qa ask: {exc}")
        return EXIT_BAD_INPUT
    archive = open_archive(args)
    docs = args.doc or None
    try:
        answer = archive.ask(question, k=args.k, docs=docs, constraints=constraints)
    except KeyError as exc:
        say(f"qa ask: {exc.args[0]}")
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print_answer(answer)
    return EXIT_OK


def cmd_index(args) -> int:
    from . import index as index_mod
    from .config import default_index
    from .embed import Encoder

    corpus = corpus_of(args)
    root = args.index or default_index(corpus)
    if args.check:
        try:
            loaded = index_mod.load(root, verify="all")
            loaded.warm()
        except index_mod.IndexError_ as exc:
            print(printable(f"index {root}: {exc}"))
            return EXIT_BAD_INPUT if isinstance(exc, index_mod.IndexUnusable) else EXIT_PARTIAL
        st = index_mod.staleness(corpus, loaded)
        print(printable(f"index {root}: {len(loaded.docs)} documents, {loaded.n_sentences} sentences; {st.describe()}"))
        return EXIT_PARTIAL if st.stale else EXIT_OK
    with IndexProgress() as progress:
        report = index_mod.build(corpus, root, Encoder(), log=say, progress_factory=progress, force=args.rebuild)
    print(
        f"indexed {report.documents} documents ({report.sentences} sentences, {report.passages} passages) "
        f"in {report.seconds:.1f}s: {len(report.embedded_documents)} embedded, {report.reused_documents} reused, "
        f"{len(report.removed_documents)} removed, {len(report.skipped)} skipped"
    )
    return EXIT_OK


def cmd_chat(args) -> int:
    """A line-oriented conversation on stdin/stdout: follow-ups understand earlier lines.

    Works in a pipe (`printf 'q1\\nq2\\n' | qa chat --json` prints one JSON answer per line).
    `/new` starts a new conversation, `/quit` (or end of input) leaves.
    """
    from .engine import BadQuestion

    archive = open_archive(args)
    conversation = archive.conversation()
    interactive = sys.stdin.isatty()
    if interactive and not args.json:
        print(
            f"{archive.state.documents} documents, {archive.state.sentences} sentences. Ask a question; "
            "follow-ups may refer to earlier answers. /new starts over, /quit or Ctrl-D leaves."
        )
    failures = 0
    while True:
        try:
            line = input("? " if interactive and not args.json else "")
        except EOFError:
            break
        q = line.strip()
        if not q:
            continue
        if q in ("/quit", "/exit"):
            break
        if q in ("/new", "/reset"):
            conversation = archive.conversation()
            if not args.json:
                print("(new conversation)")
            continue
        try:
            answer = conversation.ask(q, k=args.k)
        except BadQuestion as exc:
            failures += 1
            if args.json:
                print(json.dumps({"question": line, "error": str(exc)}, ensure_ascii=False), flush=True)
            else:
                print(printable(f"error: {exc}"), flush=True)
            continue
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print_answer(answer)
            print(flush=True)
    return EXIT_PARTIAL if failures else EXIT_OK


def _batch_progress(total: int):
    """Rows done, rate and ETA on stderr; nothing at all when stderr is not a terminal."""
    import contextlib

    if not sys.stderr.isatty() or total == 0:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]Answering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("batch", total=total, rate="")

    def advance(n: int) -> None:
        progress.advance(task, n)
        speed = progress.tasks[0].speed
        progress.update(task, rate=f"{speed:.0f} q/s" if speed else "")

    @contextlib.contextmanager
    def running():
        with progress:
            yield advance

    return running()


def cmd_batch(args) -> int:
    from .batch import run_batch
    from .batch_input import InputUnusable, read_questions
    from .batch_output import open_output
    from .paths import PathUnusable, check_output, output_format

    def fail(msg: str) -> int:
        say(f"qa batch: {msg}")
        return EXIT_BAD_INPUT

    from .constraints import BadConstraint

    out = None if args.output in (None, "-") else args.output
    if args.resume and out is None:
        return fail("--resume needs -o OUTPUT (the file to continue)")
    try:
        constraints = explicit_constraints(args)
    except BadConstraint as exc:
        return fail(str(exc))
    try:
        fmt = output_format(out, args.format)
        if out is not None:
            check_output(out, [args.input])
        questions = read_questions(args.input, args.input_format)
    except (InputUnusable, PathUnusable) as exc:
        return fail(str(exc))
    # The archive opens before the output does, so a bad corpus never leaves an empty output file.
    archive = open_archive(args)
    archive.filter = constraints  # every row, follow-ups included
    try:
        writer, existing = open_output(out, fmt, questions.columns, Path(questions.name).name, args.resume, sys.stdout)
    except PathUnusable as exc:
        return fail(str(exc))
    todo = sum(1 for r in questions.rows if r.key not in existing.done)
    try:
        with _batch_progress(todo) as advance:
            report = run_batch(archive, questions.rows, writer, k=args.k, done=existing.done, progress=advance)
    except PathUnusable as exc:  # the output stopped taking rows (full disk, a file in /proc…)
        kept = f"; the {writer.written} rows written before it are in {out}: add --resume to finish" if writer.written and out else ""
        return fail(f"{exc}{kept}")
    except KeyboardInterrupt:
        if out is not None:
            say(f"interrupted; the rows answered so far are in {out}: add --resume to finish")
        raise
    finally:
        try:
            writer.close()
        except OSError:
            pass  # already reported by the write that failed
    say(report.describe(out))
    return EXIT_PARTIAL if report.tally.errors else EXIT_OK

def cmd_tui(args) -> int:
    from .tui import run

    return run(args.corpus, args.index)  # problems with the corpus are shown inside the TUI


def cmd_grade(args) -> int:
    """Thin wrapper over qa.grade.grade_file: arguments, output file, exit code."""
    from .grade import QuizFileError, grade_file, read_rows
    from .paths import PathUnusable, check_output, output_format

    def fail(msg: str) -> int:
        say(f"qa grade: {msg}")
        return EXIT_BAD_INPUT

    output = None if args.output is None or str(args.output) == "-" else args.output
    try:
        fmt = output_format(output, args.format)
        if output is not None:
            check_output(output, [args.quiz])
        rows = list(read_rows(args.quiz))
    except (QuizFileError, PathUnusable) as exc:
        return fail(str(exc))
    archive = open_archive(args)
    try:
        out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    try:
        with IndexProgress("Grading", minimum=1) as progress:
            summary = grade_file(archive, args.quiz, out, fmt, progress=progress(len(rows)), rows=rows)
    except PathUnusable as exc:  # the output stopped taking rows (full disk, a file in /proc…)
        return fail(str(exc))
    finally:
        if out is not sys.stdout:
            try:
                out.close()
            except OSError:
                pass  # a failed write has said so already
    counts = ", ".join(f"{n} {v}" for v, n in summary.counts.items())
    errors = f", {summary.errors} rows with errors" if summary.errors else ""
    where = f" -> {output}" if output else ""
    say(f"graded {summary.graded} answers ({counts}; mean score {summary.mean_score:.2f}){errors}{where}")
    return EXIT_PARTIAL if summary.errors else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Ask questions of a folder of archival documents; answers are verbatim quotes with references.",
    )
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="number of extracts (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object (format in README)")
    p.add_argument("--doc", action="append", help="restrict to this document (repeatable)")
    _constraint_options(p)
    _common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("index", help="build or refresh the index (only changed files are re-embedded)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--check", action="store_true", help="report whether the index is usable and fresh")
    _common(p)
    p.set_defaults(func=cmd_index)

    from .batch_input import INPUT_FORMATS
    from .paths import OUTPUT_FORMATS

    p = sub.add_parser("batch", help="answer a file of questions (.txt, .csv, .jsonl) into jsonl, csv or Markdown")
    p.add_argument("input", help="question file, or - for stdin (then give --input-format)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="output format (default: from -o's extension, else jsonl)")
    p.add_argument("--input-format", choices=INPUT_FORMATS, help="question file format (default: from its extension)")
    p.add_argument("--k", type=int, default=5, help="extracts per question (default 5)")
    p.add_argument("--resume", action="store_true", help="skip rows whose id is already in OUTPUT and append the rest")
    _constraint_options(p)
    _common(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("grade", help="mark students' short answers correct/partial/incorrect, quoting the archive")
    p.add_argument("quiz", type=Path, help=".csv or .jsonl with question, answer, optional reference, id, student")
    p.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="output format (default: from -o's extension, else jsonl)")
    _common(p)
    p.set_defaults(func=cmd_grade)

    for name, text in (("chat", "a conversation on stdin/stdout (follow-up questions understood)"),
                       ("prompt", "same as chat")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--json", action="store_true", help="one JSON answer per line")
        p.add_argument("--k", type=int, default=5, help="number of extracts (default 5)")
        _common(p)
        p.set_defaults(func=cmd_chat)

    p = sub.add_parser("tui", help="the terminal UI (also what `qa` alone opens)")
    _common(p)
    p.set_defaults(func=cmd_tui)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .documents import CorpusError
    from .embed import ModelMissing
    from .index import IndexError_
    from .paths import PathUnusable

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        # `qa` alone (or `qa --corpus DIR`) opens the TUI on a terminal, a plain prompt otherwise.
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        argv = ["tui" if interactive else "chat", *argv]
    args = parser.parse_args(argv)
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    try:
        return args.func(args)
    except (CorpusError, PathUnusable) as exc:
        say(f"qa {args.command}: {exc}")
        return EXIT_BAD_INPUT
    except (IndexError_, ModelMissing) as exc:
        say(f"qa: {exc}")
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

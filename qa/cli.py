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

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of .txt/.md documents (default: ./seeds)")
    p.add_argument("--index", type=Path, help="index folder (default: ./index for the seeds)")


def open_archive(args, refresh: bool = True):
    from .engine import Archive

    with IndexProgress() as progress:
        return Archive.open(args.corpus, args.index, refresh=refresh, progress_factory=progress)


# -- human output ----------------------------------------------------------------------------------


def print_answer(answer, console=None) -> None:
    from rich.console import Console
    from rich.text import Text

    from .text import content_words, fold_whitespace, stem, WORD_RE

    console = console or Console(highlight=False)
    if answer.interpreted and answer.interpreted != answer.question:
        console.print(Text(f"Interpreted as: {answer.interpreted}", style="italic dim"))
    wanted = set(content_words(answer.interpreted or answer.question))

    def render(ex, n: int, closest: bool = False) -> None:
        quote = fold_whitespace(ex.quote)
        body = Text("> ", style="dim")
        if ex.speaker:
            body.append(f"{ex.speaker}: ", style="bold cyan")
        text = Text(quote)
        for m in WORD_RE.finditer(quote):
            if stem(m.group(0).lower().replace("’", "'")) in wanted:
                text.stylize("bold yellow", m.start(), m.end())
        body.append_text(text)
        console.print(Text(f"[{n}] ", style="bold"), body, sep="")
        ref = f"    — {ex.reference()}"
        if ex.section == "metadata":
            ref += " (archivist's note, not the document's text)"
        console.print(Text(ref + f"  score {ex.score:.2f}", style="dim"))

    if answer.abstained:
        console.print(Text("No passage in this archive answers that.", style="bold red"))
        if answer.closest:
            console.print(Text("Closest passages (not answers):", style="bold"))
            for n, ex in enumerate(answer.closest, 1):
                render(ex, n, closest=True)
        return
    for n, ex in enumerate(answer.answers, 1):
        render(ex, n)


# -- commands --------------------------------------------------------------------------------------


def cmd_ask(args) -> int:
    from .engine import BadQuestion, validate_question

    try:
        question = validate_question(args.question)
    except BadQuestion as exc:
        print(f"qa ask: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    archive = open_archive(args)
    docs = args.doc or None
    try:
        answer = archive.ask(question, k=args.k, docs=docs)
    except KeyError as exc:
        print(f"qa ask: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print_answer(answer)
    return EXIT_OK


def cmd_index(args) -> int:
    from . import index as index_mod
    from .config import default_corpus, default_index
    from .embed import Encoder

    corpus = args.corpus or default_corpus()
    root = args.index or default_index(corpus)
    if not corpus.is_dir():
        print(f"qa index: corpus folder not found: {corpus}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.check:
        try:
            loaded = index_mod.load(root)
            loaded.warm()
        except index_mod.IndexError_ as exc:
            print(f"index {root}: {exc}")
            return EXIT_PARTIAL
        st = index_mod.staleness(corpus, loaded)
        print(f"index {root}: {len(loaded.docs)} documents, {loaded.n_sentences} sentences; {st.describe()}")
        return EXIT_PARTIAL if st.stale else EXIT_OK
    with IndexProgress() as progress:
        report = index_mod.build(
            corpus, root, Encoder(), log=lambda m: print(m, file=sys.stderr), progress_factory=progress, force=args.rebuild
        )
    print(
        f"indexed {report.documents} documents ({report.sentences} sentences, {report.passages} passages) "
        f"in {report.seconds:.1f}s: {len(report.embedded_documents)} embedded, {report.reused_documents} reused, "
        f"{len(report.removed_documents)} removed, {len(report.skipped)} skipped"
    )
    return EXIT_OK


def cmd_prompt(args) -> int:
    """A plain question loop for terminals without the TUI."""
    from .engine import BadQuestion

    archive = open_archive(args)
    print(f"{archive.state.documents} documents indexed. Ask a question (empty line or Ctrl-D to quit).")
    while True:
        try:
            q = input("? ")
        except EOFError:
            return EXIT_OK
        if not q.strip():
            return EXIT_OK
        try:
            print_answer(archive.ask(q))
        except BadQuestion as exc:
            print(f"error: {exc}")


def cmd_grade(args) -> int:
    """Thin wrapper over qa.grade.grade_file: arguments, output file, exit code."""
    from .grade import FORMATS, QuizFileError, grade_file, read_rows

    fmt = args.format or (args.output.suffix.lower().lstrip(".") if args.output else "") or "jsonl"
    if fmt not in FORMATS:
        print(f"qa grade: cannot tell the output format from {args.output}; use --format {'|'.join(FORMATS)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        rows = list(read_rows(args.quiz))
    except QuizFileError as exc:
        print(f"qa grade: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    archive = open_archive(args)
    try:
        out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    except OSError as exc:
        print(f"qa grade: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with IndexProgress("Grading", minimum=1) as progress:
            summary = grade_file(archive, args.quiz, out, fmt, progress=progress(len(rows)), rows=rows)
    finally:
        if out is not sys.stdout:
            out.close()
    counts = ", ".join(f"{n} {v}" for v, n in summary.counts.items())
    errors = f", {summary.errors} rows with errors" if summary.errors else ""
    where = f" -> {args.output}" if args.output else ""
    print(f"graded {summary.graded} answers ({counts}; mean score {summary.mean_score:.2f}){errors}{where}", file=sys.stderr)
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
    _common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("index", help="build or refresh the index (only changed files are re-embedded)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--check", action="store_true", help="report whether the index is usable and fresh")
    _common(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("grade", help="mark students' short answers correct/partial/incorrect, quoting the archive")
    p.add_argument("quiz", type=Path, help=".csv or .jsonl with question, answer, optional reference, id, student")
    p.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")
    p.add_argument("--format", choices=["csv", "jsonl", "md"], help="default: from the output's suffix, else jsonl")
    _common(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("prompt", help="a plain interactive question loop")
    _common(p)
    p.set_defaults(func=cmd_prompt)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .documents import CorpusError
    from .embed import ModelMissing
    from .index import IndexError_

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["prompt", *(argv or sys.argv[1:])])
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    try:
        return args.func(args)
    except CorpusError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (IndexError_, ModelMissing) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""Attacks on the commands' inputs, outputs and displays (issue 12), tried as a user tries them:
real files, real `qa` processes, `kill -9` where the case needs it."""
from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.batch_input import read_questions
from qa.engine import BadQuestion, validate_question
from qa.grade import RowError, read_rows

from .conftest import ROOT, SEEDS

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
# What a terminal would obey: C0 controls other than line breaks and tabs, DEL, C1, bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def qa(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa", *map(str, args)], env=ENV, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def seeds(index) -> list[str]:
    return ["--corpus", str(SEEDS), "--index", str(index)]


# -- 1. no command writes over its own input ---------------------------------------------------------

QUIZ = "id,student,question,answer\nq1,Ana,What did Rusk say about July?,The situation worsened\n"


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink", "dotted"])
@pytest.mark.parametrize("command", ["grade", "batch"])
def test_an_output_that_is_the_input_is_refused_by_every_spelling(tmp_path, seeds_index, command, spelling):
    (tmp_path / "sub").mkdir()
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(QUIZ, encoding="utf-8")
    out = {
        "same": quiz,
        "symlink": tmp_path / "link.csv",
        "hardlink": tmp_path / "hard.csv",
        "dotted": tmp_path / "sub" / ".." / "quiz.csv",
    }[spelling]
    if spelling == "symlink":
        out.symlink_to(quiz.name)
    elif spelling == "hardlink":
        os.link(quiz, out)
    proc = qa(command, quiz, "-o", out, *seeds(seeds_index))
    assert proc.returncode == 2, proc.stderr
    assert "is the input file" in proc.stderr and "Traceback" not in proc.stderr
    assert quiz.read_text("utf-8") == QUIZ


# -- 2. --resume of a CSV answer file ------------------------------------------------------------------

CSV_QUESTIONS = [
    "What did Rusk say about July?",
    "Who met Gromyko?",
    "What did Kennedy say about Berlin?",
    "Why did Castro mention the bases?",
    "What is the recommended baking temperature for sourdough bread?",
]


def write_csv_questions(path: Path, n: int) -> list[str]:
    ids = [f"r{i}" for i in range(n)]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "note"])
        for i, rid in enumerate(ids):
            # carried notes with commas, quotes and line breaks, so rows span lines on disk
            note = f'row {i}, "quoted"\nsecond line' if i % 3 == 0 else ("" if i % 3 == 1 else f"plain {i}")
            w.writerow([rid, CSV_QUESTIONS[i % len(CSV_QUESTIONS)], note])
    return ids


def csv_records_of(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_resuming_a_finished_csv_leaves_it_byte_identical(tmp_path, seeds_index):
    infile = tmp_path / "q.csv"
    ids = write_csv_questions(infile, 40)
    out = tmp_path / "out.csv"
    first = qa("batch", infile, "-o", out, "--k", "2", *seeds(seeds_index))
    assert first.returncode == 0, first.stderr
    finished = out.read_bytes()
    again = qa("batch", infile, "-o", out, "--k", "2", "--resume", *seeds(seeds_index))
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == finished
    assert "40 questions" in again.stderr and "(40 already in" in again.stderr
    records = csv_records_of(out)
    assert [r[0] for r in records[1:]] == ids
    assert {len(r) for r in records} == {len(records[0])}


@pytest.mark.parametrize("fmt", ["jsonl", "md"])
def test_resuming_a_finished_jsonl_or_markdown_file_leaves_it_byte_identical(tmp_path, seeds_index, fmt):
    infile = tmp_path / "q.csv"
    write_csv_questions(infile, 12)
    out = tmp_path / f"out.{fmt}"
    assert qa("batch", infile, "-o", out, "--k", "2", *seeds(seeds_index)).returncode == 0
    finished = out.read_bytes()
    again = qa("batch", infile, "-o", out, "--k", "2", "--resume", *seeds(seeds_index))
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == finished


def test_kill_9_during_a_long_csv_batch_then_resume_gives_every_row_once(tmp_path, seeds_index):
    infile = tmp_path / "many.csv"
    ids = write_csv_questions(infile, 900)
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "qa", "batch", str(infile), "-o", str(out), "--k", "2", *seeds(seeds_index)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.stat().st_size > 40_000:  # a few windows of rows are on disk
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the batch ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed = out.read_bytes()
    assert 0 < len(killed)

    resumed = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = csv_records_of(out)
    header = records[0]
    assert all(len(r) == len(header) for r in records), [len(r) for r in records if len(r) != len(header)][:5]
    assert [r[0] for r in records[1:]] == ids  # each id exactly once, in the input's order
    assert resumed.stderr.startswith(f"{len(ids)} questions")
    note = header.index("note")
    assert all(r[note] == f'row {i}, "quoted"\nsecond line' for i, r in enumerate(records[1:]) if i % 3 == 0)
    # the rows finished before the kill are kept byte for byte (only a torn last row is cut off);
    # CRLF ends a row, a note's own line break is a bare LF inside quotes
    complete = killed[: killed.rfind(b"\r\n") + 2]
    assert out.read_bytes().startswith(complete)

    finished = out.read_bytes()
    again = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == finished


# -- 3 and 8. text from documents never steers the terminal --------------------------------------------

EVIL_NAME = "me\nmo.txt"
EVIL_TEXT = (
    "Memo on grain deliveries.\n\n"
    "The ministry shipped four thousand tonnes of grain to Havana in August.\x1b[2J\x1b]52;c;ZXZpbA==\x07"
    "\x1b]0;pwned\x07 Deliveries of fertiliser\u202e were postponed \x9b until spring.\n"
)
GRAIN = "How much grain was shipped to Havana?"


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    root = tmp_path_factory.mktemp("evil")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / EVIL_NAME).write_text(EVIL_TEXT, encoding="utf-8")
    index = root / "index"
    proc = qa("index", "--corpus", corpus, "--index", index)
    assert proc.returncode == 0, proc.stderr
    return corpus, index


def assert_shown_not_obeyed(text: str) -> None:
    assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.search(text).group())
    assert "\\x1b[2J" in text and "\\x1b]52;c;ZXZpbA==\\x07" in text and "\\u202e" in text and "\\x9b" in text


def test_ask_shows_control_characters_of_a_document_instead_of_sending_them(evil):
    corpus, index = evil
    proc = qa("ask", GRAIN, "--corpus", corpus, "--index", index)
    assert proc.returncode == 0, proc.stderr
    assert_shown_not_obeyed(proc.stdout)
    # the file name's line break is shown as \n: the reference stays on one line
    refs = [line for line in proc.stdout.splitlines() if "line " in line and "—" in line]
    assert refs and all("me\\nmo.txt, line " in r for r in refs)


def test_ask_on_a_terminal_shows_control_characters_of_a_document(evil):
    corpus, index = evil
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "ask", GRAIN, "--corpus", str(corpus), "--index", str(index)],
        env=dict(ENV, TERM="xterm-256color", COLUMNS="400"), stdin=child, stdout=child, stderr=child, close_fds=True,
    )
    os.close(child)
    out = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 1)
        if ready:
            try:
                chunk = os.read(parent, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(parent)
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    # rich colours its output (ESC [ … m); the document's own sequences must not be there
    assert "\x1b[2J" not in text and "\x1b]52" not in text and "\x1b]0;pwned" not in text
    assert "\x07" not in text and "\u202e" not in text and "\x9b" not in text
    assert "\\x1b[2J" in text and "\\x1b]0;pwned\\x07" in text


def test_json_keeps_the_quote_exact(evil):
    corpus, index = evil
    proc = qa("ask", GRAIN, "--json", "--corpus", corpus, "--index", index)
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout)["answers"]
    assert answers and all(a["doc"] == EVIL_NAME for a in answers)
    assert all(EVIL_TEXT[a["start"] : a["end"]] == a["quote"] for a in answers)
    assert any("\x1b]52;c;ZXZpbA==\x07" in a["quote"] for a in answers)


def test_batch_markdown_report_summary_and_grade_report_show_control_characters(evil, tmp_path):
    corpus, index = evil
    name = "q\x1b]0;title\x07.txt"
    infile = tmp_path / name
    infile.write_text(GRAIN + "\n", encoding="utf-8")
    report = tmp_path / "report.md"
    proc = qa("batch", infile, "-o", report, "--corpus", corpus, "--index", index)
    assert proc.returncode == 0, proc.stderr
    assert not RAW_CONTROL.search(proc.stderr)
    md = report.read_text("utf-8")
    # shown as \x1b, \n (the backslash escaped for Markdown), never as the characters themselves
    assert not RAW_CONTROL.search(md) and "me\\\\nmo.txt, line" in md
    assert "August.\\\\x1b\\[2J\\\\x1b\\]52;c;ZXZpbA==\\\\x07" in md and "Answers to q\\\\x1b\\]0;title\\\\x07.txt" in md

    quiz = tmp_path / "quiz.csv"
    quiz.write_text(f"question,answer\n{GRAIN},Four thousand tonnes\n", encoding="utf-8")
    graded = tmp_path / "graded.md"
    proc = qa("grade", quiz, "-o", graded, "--corpus", corpus, "--index", index)
    assert proc.returncode in (0, 1), proc.stderr
    assert not RAW_CONTROL.search(graded.read_text("utf-8")) and not RAW_CONTROL.search(proc.stderr)


def test_error_messages_show_control_characters_of_file_names(tmp_path):
    missing = tmp_path / "no\x1b[2Jsuch.txt"
    proc = qa("batch", missing)
    assert proc.returncode == 2
    assert not RAW_CONTROL.search(proc.stderr) and "no\\x1b[2Jsuch.txt" in proc.stderr


def test_printable_shows_every_control_and_the_same_length_form_keeps_offsets():
    from qa.display import printable, printable_same_length

    text = "a\x1b[2J\x07b\x7f\x9b\u202ec\td\ne"
    assert printable(text) == "a\\x1b[2J\\x07b\\x7f\\x9b\\u202ec\\td\\ne"
    assert printable(text, keep="\n\t") == "a\\x1b[2J\\x07b\\x7f\\x9b\\u202ec\td\ne"
    same = printable_same_length(text)
    assert len(same) == len(text) and not RAW_CONTROL.search(same) and same.endswith("d\ne")
    assert printable("Rusk said: «July».") == "Rusk said: «July»."


async def test_tui_cards_and_viewer_show_control_characters(evil, encoder):
    from textual.content import Content

    from qa.tui.app import QaApp
    from qa.tui.screens import DocumentText, ViewerScreen
    from qa.tui.widgets import ExtractCard

    from .tui_support import ask

    corpus, index = evil
    app = QaApp(corpus, index, encoder=encoder)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, GRAIN)
        cards = list(app.query(ExtractCard))
        assert cards
        shown = "".join(str(c.render()) if isinstance(c.render(), Content) else c.render().plain for c in cards)
        assert_shown_not_obeyed(shown)
        assert "me\\nmo.txt, line" in shown
        cards[0].focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ViewerScreen)
        area = app.screen.query_one(DocumentText)
        assert len(area.text) == len(EVIL_TEXT) and not RAW_CONTROL.search(area.text)
        assert "␛[2J" in area.text
        title = str(app.screen.query_one("#viewer-title").render())
        assert not RAW_CONTROL.search(title) and "me\\nmo" in title


# -- 4 and 7. path arguments and output formats -----------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", ["batch", "grade"])
def test_an_unwritable_output_is_a_message_not_a_traceback(tmp_path, seeds_index, command):
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(QUIZ, encoding="utf-8")
    proc = qa(command, quiz, "-o", "/proc/version", "--format", "jsonl", *seeds(seeds_index))
    assert proc.returncode == 2
    assert "cannot write /proc/version" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["ask", "index", "batch", "grade", "chat"])
def test_a_file_given_as_corpus_is_named_a_file(tmp_path, command):
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(QUIZ, encoding="utf-8")
    args = {"ask": ["ask", "Who?"], "index": ["index"], "batch": ["batch", quiz], "grade": ["grade", quiz], "chat": ["chat"]}[command]
    proc = qa(*args, "--corpus", quiz, "--index", tmp_path / "idx", input="")
    assert proc.returncode == 2
    assert "is a file, not a folder" in proc.stderr and "not found" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["batch", "grade"])
def test_output_folders_and_missing_folders_are_named(tmp_path, command):
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(QUIZ, encoding="utf-8")
    (tmp_path / "dir.csv").mkdir()
    proc = qa(command, quiz, "-o", tmp_path / "dir.csv")
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    proc = qa(command, quiz, "-o", tmp_path / "nowhere" / "out.csv")
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["batch", "grade"])
def test_an_unknown_output_extension_needs_format(tmp_path, seeds_index, command):
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(QUIZ, encoding="utf-8")
    out = tmp_path / "out.xlsx"
    proc = qa(command, quiz, "-o", out, *seeds(seeds_index))
    assert proc.returncode == 2 and not out.exists()
    assert "--format" in proc.stderr and ".jsonl" in proc.stderr and ".csv" in proc.stderr and ".md" in proc.stderr
    if command == "batch":
        proc = qa(command, quiz, "-o", out, "--format", "csv", *seeds(seeds_index))
        assert proc.returncode == 0, proc.stderr
        assert csv_records_of(out)[1][0] == "q1"


# -- 5. a CSV quote that never closes ---------------------------------------------------------------------


def test_an_unclosed_csv_quote_is_reported_where_it_opened(tmp_path):
    swallowing = tmp_path / "q.csv"
    swallowing.write_text(
        'id,question,answer\nq1,Who met Gromyko?,Rusk\nq2,"What did Rusk say?,July\nq3,Who?,x\nq4,Why?,y\n', encoding="utf-8"
    )
    rows = read_questions(str(swallowing)).rows
    assert rows[0].error is None
    assert "line 3" in rows[1].error and "opened on line 3" in rows[1].error and "never closed" in rows[1].error
    graded = list(read_rows(swallowing))
    assert isinstance(graded[1], RowError) and graded[1].line == 3 and "opened on line 3" in graded[1].error

    closed_later = tmp_path / "q2.csv"
    closed_later.write_text(
        'id,question,answer\nq1,Who met Gromyko?,Rusk\nq2,"What did Rusk say?,July\nq3,Who met him"\nq4,Why?,y\n',
        encoding="utf-8",
    )
    rows = read_questions(str(closed_later)).rows
    assert "2 fields where the header has 3" in rows[1].error and "opened on line 3" in rows[1].error
    assert rows[2].id == "q4" and rows[2].error is None
    graded = list(read_rows(closed_later))
    assert isinstance(graded[1], RowError) and "opened on line 3" in graded[1].error


# -- 6. a question over several lines --------------------------------------------------------------------


def test_line_breaks_and_tabs_in_a_question_are_spaces(seeds_index):
    assert validate_question("What did Rusk\r\nsay about\tJuly?\n") == "What did Rusk say about July?"
    for bad in ("What\x1b[2J about July?", "What\x00?", "Who\x1c\nmet him?", "Why\x7f?"):
        with pytest.raises(BadQuestion, match="control characters"):
            validate_question(bad)
    proc = qa("ask", "What did Rusk say\nabout July?", "--json", *seeds(seeds_index))
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["question"] == "What did Rusk say about July?" and answer["answers"]


def test_markdown_report_escapes_column_names_and_keeps_the_users_temp_file(evil, tmp_path):
    corpus, index = evil
    questions = tmp_path / "q.csv"
    questions.write_text(f'id,question,"note\x1b]0;PWN\x07x"\nr1,{GRAIN},hi\n', encoding="utf-8")
    report = tmp_path / "out.md"
    mine = tmp_path / ".out.md.tmp"  # a file of the user's that happens to bear a temp-looking name
    mine.write_text("mine", encoding="utf-8")
    proc = qa("batch", questions, "-o", report, "--corpus", corpus, "--index", index)
    assert proc.returncode == 0, proc.stderr
    md = report.read_text("utf-8")
    assert not RAW_CONTROL.search(md) and "note\\\\x1b\\]0;PWN\\\\x07x: hi" in md
    assert mine.read_text("utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.md.tmp", "out.md", "q.csv"]

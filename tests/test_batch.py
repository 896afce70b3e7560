"""`qa batch`: question files in, answer files out, row by row, resumable."""
from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import time

import pytest

from qa.batch import WINDOW, run_batch
from qa.batch_input import read_questions
from qa.batch_output import open_output
from qa.cli import main
from qa.conversation import Conversation
from qa.text import fold_whitespace

from .conftest import ROOT, SEEDS

TEXTS = {f.name: f.read_text("utf-8") for f in SEEDS.iterdir()}


def write(path, text: str, bom: bool = False, crlf: bool = False):
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def jsonl(*rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def batch(archive, infile, out, fmt="jsonl", resume=False, k=3):
    questions = read_questions(str(infile))
    writer, existing = open_output(str(out), fmt, questions.columns, questions.name, resume, sys.stdout)
    try:
        return run_batch(archive, questions.rows, writer, k=k, done=existing.done)
    finally:
        writer.close()


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def assert_verbatim(extracts):
    for a in extracts:
        assert TEXTS[a["doc"]][a["start"] : a["end"]] == a["quote"]


# -- reading question files --------------------------------------------------------------------------


def test_txt_skips_blank_and_comment_lines_with_bom_and_crlf(tmp_path):
    f = write(tmp_path / "q.txt", "# history quiz\n\nWhat did Rusk say about July?\n  # indented comment\nWho met Gromyko?\n\n", bom=True, crlf=True)
    rows = read_questions(str(f)).rows
    assert [(r.id, r.question) for r in rows] == [(1, "What did Rusk say about July?"), (2, "Who met Gromyko?")]
    assert all(r.error is None for r in rows)


def test_csv_quoted_fields_with_commas_and_newlines_and_extra_columns(tmp_path):
    f = write(
        tmp_path / "q.csv",
        'ID,Question,student,note\nq1,"What did Rusk say about July, and why?",Ana,"two\nlines, one cell"\n'
        'q2,"Who met\nGromyko?",Ben,\n\n',
        bom=True,
        crlf=True,
    )
    qf = read_questions(str(f))
    assert qf.columns == ["student", "note"]
    r1, r2 = qf.rows
    assert (r1.id, r1.question, r1.fields) == ("q1", "What did Rusk say about July, and why?", {"student": "Ana", "note": "two\r\nlines, one cell"})
    assert (r2.id, r2.question) == ("q2", "Who met Gromyko?")  # a cell typed over two lines is one question


def test_csv_row_with_wrong_number_of_fields_is_an_error_row(tmp_path):
    f = write(tmp_path / "q.csv", "id,question\na,What about July?\nb,too,many\nc,Who met Gromyko?\n")
    rows = read_questions(str(f)).rows
    assert [r.id for r in rows] == ["a", "b", "c"]
    assert rows[1].error == "line 3: 3 fields where the header has 2"
    assert rows[0].error is None and rows[2].error is None


def test_jsonl_bad_lines_become_error_rows(tmp_path):
    f = write(tmp_path / "q.jsonl", '{"id": "a", "question": "What about July?"}\n{not json\n[1, 2]\n{"id": "b"}\n{"id": "a", "question": "Again?"}\n')
    rows = read_questions(str(f)).rows
    assert [r.id for r in rows] == ["a", 2, 3, "b", "a"]
    assert rows[0].error is None
    assert rows[1].error.startswith("line 2: not valid JSON")
    assert rows[2].error == "line 3: expected a JSON object"
    assert rows[3].error == "line 4: no 'question' field"
    assert rows[4].error == "duplicate id 'a' (first used on row 1)"


def test_stdin_needs_and_uses_input_format(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"What did Rusk say?\r\n\r\nWho met Gromyko?\r\n")))
    assert [r.question for r in read_questions("-", "txt").rows] == ["What did Rusk say?", "Who met Gromyko?"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("q.docx", b"What?", "unknown question file type '.docx'"),
        ("missing.txt", None, "no such file"),
        ("q.txt", b"caf\xe9 au lait?\n", "not UTF-8"),
        ("q.csv", b"id,prompt\n1,What?\n", "no 'question' column"),
        ("q.jsonl", b"\n\n", "no questions"),
        ("q.txt", b"# only a comment\n", "no questions"),
    ],
)
def test_unusable_input_is_exit_2_without_traceback(tmp_path, capsys, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    assert main(["batch", str(tmp_path / name), "-o", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_stdin_without_input_format_and_resume_without_output_are_exit_2(capsys, tmp_path):
    assert main(["batch", "-"]) == 2
    assert "--input-format" in capsys.readouterr().err
    assert main(["batch", str(write(tmp_path / "q.txt", "What?\n")), "--resume"]) == 2
    assert "--resume needs -o" in capsys.readouterr().err


# -- answering --------------------------------------------------------------------------------------


def test_jsonl_rows_carry_the_input_and_exactly_the_ask_json_fields(archive, tmp_path):
    f = write(
        tmp_path / "q.jsonl",
        jsonl(
            {"id": "r", "question": "What did Rusk say about July?", "topic": "July", "gold": [1, 2]},
            {"question": "   "},
            {"id": 7, "question": "x" * 2001},
            {"question": "What did Gromyko answer about July?"},
        ),
    )
    report = batch(archive, f, tmp_path / "out.jsonl", k=3)
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["r", 2, 7, 4]
    assert (report.tally.answered + report.tally.abstained, report.tally.errors) == (2, 2)
    first = rows[0]
    assert (first["topic"], first["gold"]) == ("July", [1, 2])
    for row, question in ((rows[0], "What did Rusk say about July?"), (rows[3], "What did Gromyko answer about July?")):
        expected = archive.ask(question, k=3).to_json()
        answer = {k: v for k, v in row.items() if k in expected}
        assert set(row) - set(expected) <= {"id", "topic", "gold"}
        assert [(a["doc"], a["start"], a["end"], a["quote"]) for a in answer["answers"]] == [
            (a["doc"], a["start"], a["end"], a["quote"]) for a in expected["answers"]
        ]
        assert [a["score"] for a in answer["answers"]] == pytest.approx([a["score"] for a in expected["answers"]], abs=2e-3)
        assert answer["question"] == expected["question"] and answer["abstained"] == expected["abstained"]
        assert_verbatim(row["answers"])
    assert rows[1]["error"] == "the question is empty" and "answers" not in rows[1]
    assert "too long" in rows[2]["error"]


def test_input_fields_named_like_output_fields_are_kept_under_input_prefix(archive, tmp_path):
    f = write(
        tmp_path / "q.jsonl",
        jsonl({"id": "a", "question": "What did Rusk say about July?", "answers": ["mine"], "abstained": "maybe", "error": "old", "input_answers": 1}),
    )
    batch(archive, f, tmp_path / "out.jsonl")
    (row,) = read_jsonl(tmp_path / "out.jsonl")
    assert row["abstained"] is False and row["answers"] and isinstance(row["answers"][0], dict)
    assert "error" not in row
    assert (row["input_answers"], row["input_abstained"], row["input_error"], row["input_input_answers"]) == (["mine"], "maybe", "old", 1)
    assert_verbatim(row["answers"])


def test_independent_questions_are_embedded_in_batches(archive, tmp_path, monkeypatch):
    calls = []
    embed = archive.embed_questions
    monkeypatch.setattr(archive, "embed_questions", lambda qs: calls.append(len(qs)) or embed(qs))
    f = write(tmp_path / "q.txt", "".join(f"What did Rusk say about point {i}?\n" for i in range(WINDOW + 6)))
    report = batch(archive, f, tmp_path / "out.jsonl", k=1)
    assert report.written == WINDOW + 6
    assert calls == [WINDOW, 6]


def test_conversation_rows_go_through_one_conversation_each_in_file_order(archive, tmp_path, monkeypatch):
    seen = []
    ask = Conversation.ask
    monkeypatch.setattr(Conversation, "ask", lambda self, q, k=5, docs=None: seen.append((id(self), q)) or ask(self, q, k, docs))
    f = write(
        tmp_path / "q.jsonl",
        jsonl(
            {"id": "a1", "conversation": "A", "question": "What did Rusk say about July?"},
            {"id": "b1", "conversation": "B", "question": "Who met Gromyko?"},
            {"id": "x", "question": "What about Cuba?"},
            {"id": "a2", "conversation": "A", "question": "And what did Gromyko answer?"},
            {"id": "b2", "conversation": "B", "question": "Where?"},
        ),
    )
    batch(archive, f, tmp_path / "out.jsonl")
    by_dialogue = {}
    for dialogue, q in seen:
        by_dialogue.setdefault(dialogue, []).append(q)
    assert sorted(by_dialogue.values()) == [
        ["What did Rusk say about July?", "And what did Gromyko answer?"],
        ["Who met Gromyko?", "Where?"],
    ]
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["a1", "b1", "x", "a2", "b2"]
    assert rows[3]["conversation"] == "A" and "conversation" not in rows[2]


def test_csv_output_has_top_quote_reference_and_second_and_third_quotes(archive, tmp_path):
    f = write(tmp_path / "q.csv", 'question,student,score\n"What did Rusk say about July?",Ana,10\n"",Ben,3\n')
    batch(archive, f, tmp_path / "out.csv", fmt="csv", k=3)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:6] == ["id", "question", "interpreted", "abstained", "quote", "reference"]
    ok, bad = rows
    expected = archive.ask("What did Rusk say about July?", k=3).answers
    assert (ok["id"], ok["abstained"], ok["student"], ok["input_score"]) == ("1", "false", "Ana", "10")
    assert ok["quote"] == expected[0].quote == TEXTS[ok["doc"]][int(ok["start"]) : int(ok["end"])]
    assert ok["reference"] == expected[0].reference()
    assert float(ok["score"]) == pytest.approx(expected[0].score, abs=2e-3)
    assert (ok["quote_2"], ok["quote_3"]) == (expected[1].quote, expected[2].quote)
    assert ok["error"] == ""
    assert (bad["id"], bad["error"], bad["student"], bad["quote"]) == ("2", "the question is empty", "Ben", "")


def test_markdown_report_has_summary_on_top_and_quotes_as_blockquotes(archive, tmp_path):
    f = write(tmp_path / "q.txt", "What did Rusk say about July?\n" + "x" * 2001 + "\n")
    batch(archive, f, tmp_path / "out.md", fmt="md", k=2)
    text = (tmp_path / "out.md").read_text("utf-8")
    head, _, body = text.partition("## 1.")
    assert "| questions | answered | abstained | errors |" in head
    assert "| 2 | 1 | 0 | 1 |" in head or "| 2 | 0 | 1 | 1 |" in head
    quote = archive.ask("What did Rusk say about July?", k=2).answers[0]
    speaker = f"**{quote.speaker}:** " if quote.speaker else ""
    assert f"> {speaker}{fold_whitespace(quote.quote)}" in body.replace("\\", "")  # escaping aside, the document's words
    assert f"— {quote.reference()}" in body
    assert "**Error:** the question is too long" in body


# -- resuming ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "md"])
def test_resume_cuts_a_torn_last_row_and_appends_the_rest(archive, tmp_path, fmt):
    questions = ["What did Rusk say about July?", "Who met Gromyko?", "What about Cuba?", "", "What did Kennedy say?"]
    f = write(tmp_path / "q.jsonl", jsonl(*({"id": f"q{i}", "question": q, "note": "a,b\nc"} for i, q in enumerate(questions))))
    out = tmp_path / f"out.{fmt}"
    batch(archive, f, out, fmt=fmt, k=2)
    whole = out.read_text("utf-8")
    # As a kill would leave it: the first rows complete, the third torn in the middle.
    marker = {"jsonl": '{"id": "q2"', "csv": "q2,", "md": "## q2."}[fmt]
    cut = whole.index(marker) + 30
    out.write_text(whole[:cut], "utf-8")
    report = batch(archive, f, out, fmt=fmt, resume=True, k=2)
    assert (report.skipped, report.written) == (2, 3)
    assert report.tally.questions == 5 and report.tally.errors == 1
    text = out.read_text("utf-8")
    if fmt == "jsonl":
        ids = [r["id"] for r in read_jsonl(out)]
    elif fmt == "csv":
        ids = [r["id"] for r in csv.DictReader(io.StringIO(text, newline=""))]
    else:
        ids = [line.split(".")[0][3:] for line in text.splitlines() if line.startswith("## ")]
        assert "| 5 |" in text.split("## q0.")[0]  # the summary on top counts the resumed rows too
    assert ids == [f"q{i}" for i in range(5)]
    if fmt != "md":  # (the Markdown summary is rewritten at the end; everything else is the same)
        assert text == whole


def test_resume_asks_earlier_turns_again_for_an_unfinished_conversation(archive, tmp_path, monkeypatch):
    f = write(
        tmp_path / "q.jsonl",
        jsonl(
            {"id": "t1", "conversation": "c", "question": "What did Rusk say about July?"},
            {"id": "t2", "conversation": "c", "question": "And what did Gromyko answer?"},
            {"id": "t3", "conversation": "c", "question": "Why?"},
        ),
    )
    out = tmp_path / "out.jsonl"
    batch(archive, f, out)
    out.write_text(out.read_text("utf-8").split('{"id": "t3"')[0], "utf-8")
    seen = []
    ask = Conversation.ask
    monkeypatch.setattr(Conversation, "ask", lambda self, q, k=5, docs=None: seen.append((id(self), q)) or ask(self, q, k, docs))
    batch(archive, f, out, resume=True)
    assert [q for _, q in seen] == ["What did Rusk say about July?", "And what did Gromyko answer?", "Why?"]
    assert len({d for d, _ in seen}) == 1
    assert [r["id"] for r in read_jsonl(out)] == ["t1", "t2", "t3"]


def test_resume_refuses_a_file_that_is_not_batch_output(tmp_path, seeds_index, capsys):
    f = write(tmp_path / "q.txt", "What did Rusk say about July?\n")
    (tmp_path / "notes.jsonl").write_text("my own notes\nmore\n", "utf-8")
    rc = main(["batch", str(f), "-o", str(tmp_path / "notes.jsonl"), "--resume", "--corpus", str(SEEDS), "--index", str(seeds_index)])
    assert rc == 2
    assert "cannot resume into" in capsys.readouterr().err
    assert (tmp_path / "notes.jsonl").read_text("utf-8") == "my own notes\nmore\n"


def generated_questions() -> list[dict]:
    people = ["Rusk", "Gromyko", "Kennedy", "Dobrynin", "Khrushchev", "Castro"]
    topics = ["July", "Cuba", "Berlin", "missiles", "bases", "China", "the UN", "weapons", "blockade", "Turkey"]
    forms = ["What did {} say about {}?", "How did {} describe {}?", "Why did {} mention {}?", "When did {} talk about {}?", "What did {} think of {}?", "Did {} discuss {}?"]
    rows = [{"id": f"g{i}", "question": form.format(p, t)} for i, (form, p, t) in enumerate(itertools.product(forms, people, topics))]
    rows.insert(150, {"id": "blank", "question": ""})
    return rows


def test_killed_batch_keeps_finished_rows_and_resume_finishes_each_id_once(tmp_path, seeds_index):
    rows = generated_questions()
    infile = write(tmp_path / "many.jsonl", jsonl(*rows))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "qa", "batch", str(infile), "-o", str(out), "--k", "2", "--corpus", str(SEEDS), "--index", str(seeds_index)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text("utf-8").count("\n") >= WINDOW:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the batch ended before it could be killed"
        proc.kill()
    finally:
        proc.kill()
        proc.wait()
    before = out.read_text("utf-8")
    complete = before[: before.rfind("\n") + 1]
    done = [json.loads(line)["id"] for line in complete.splitlines()]
    assert WINDOW <= len(done) < len(rows)
    assert done == [r["id"] for r in rows[: len(done)]]

    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 1, resumed.stderr  # the blank question failed, and the summary says so
    assert f"({len(done)} already in {out}" in resumed.stderr and "1 row failed" in resumed.stderr
    assert "\x1b[" not in resumed.stderr and "Traceback" not in resumed.stderr  # no progress bar off a terminal
    after = out.read_text("utf-8")
    assert after.startswith(complete)  # finished rows are never rewritten
    final = read_jsonl(out)
    assert sorted(r["id"] for r in final) == sorted(r["id"] for r in rows)
    assert len(final) == len(rows)
    assert next(r for r in final if r["id"] == "blank")["error"] == "the question is empty"
    for r in final[:: 37]:
        assert_verbatim(r.get("answers", []))


@pytest.mark.parametrize("gold", ["dev_qa.jsonl", "dev_conversations.jsonl"])
def test_dev_sets_answer_file_is_what_the_scorer_reads(shared, seeds_index, tmp_path, gold):
    out = tmp_path / "out.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "qa", "batch", str(shared / "eval" / gold), "--format", "jsonl", "-o", str(out)]
    proc = subprocess.run([*cmd, "--corpus", str(SEEDS), "--index", str(seeds_index)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    gold_rows = read_jsonl(shared / "eval" / gold)
    assert [r["id"] for r in read_jsonl(out)] == [g["id"] for g in gold_rows]
    score = subprocess.run(
        [sys.executable, str(shared / "eval" / "score_qa.py"), str(shared / "eval" / gold), str(out), str(SEEDS), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert score.returncode == 0, score.stderr
    metrics = json.loads(score.stdout)
    assert metrics["missing"] == 0 and metrics["not_verbatim"] == 0 and metrics["too_long"] == 0
    assert metrics["quotes"] > 0

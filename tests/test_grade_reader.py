"""`qa grade` and `qa batch` read files through one reader: the same failures, worded alike."""
from __future__ import annotations

import json

import pytest

from qa.batch_input import FileUnusable, InputUnusable, read_questions
from qa.grade import QuizFileError, QuizRow, read_rows


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file"), (b"question,answer\n\x00\x01", "is a binary file"), (b"question\n\xff\xfe\n", "not UTF-8 text")],
)
def test_both_commands_word_an_unusable_file_alike(tmp_path, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(QuizFileError) as quiz:
        list(read_rows(path))
    with pytest.raises(InputUnusable) as batch:
        read_questions(str(path))
    assert isinstance(quiz.value, FileUnusable) and isinstance(batch.value, FileUnusable)
    assert str(quiz.value).startswith(f"{path}: {message}")
    # Only the name of the kind of file differs ("quiz file" / "question file").
    assert str(quiz.value).replace("quiz file", "X") == str(batch.value).replace("question file", "X")


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(tmp_path):
    path = tmp_path / "quiz.jsonl"
    answer = "Rusk\u2028Gromyko"
    path.write_text(json.dumps({"question": "Who met?", "answer": answer}, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = list(read_rows(path))
    assert len(rows) == 1 and isinstance(rows[0], QuizRow) and rows[0].answer == answer


def test_csv_rows_keep_their_first_line_after_a_multiline_field(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text('question,answer\nWho?,"one\ntwo"\n\nWhen?,1962\n', encoding="utf-8")
    rows = list(read_rows(path))
    assert [(r.line, r.answer) for r in rows] == [(2, "one\ntwo"), (5, "1962")]
